// The watch hub on a bare HTTP server: what is hard to provoke through the whole service.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { SseParser } from '@msa/service-kit';
import { MemoryStore } from '../src/registry/memory-store';
import { WatchHub, type WatchHubOptions } from '../src/registry/watch-hub';
import { Recorder, registration } from './support/fixtures';

interface Event {
  event: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the test reads what it expects
  data: any;
}

async function serve(store: MemoryStore, options: WatchHubOptions = {}) {
  const hub = new WatchHub(store, options);
  hub.start();
  const server = http.createServer((_req, res) => void hub.connect(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    hub,
    port,
    async close() {
      hub.stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// Reads the stream as it comes: the parsed events, and the raw text (comments included).
function watch(port: number) {
  const events = new Recorder<Event>();
  const raw = new Recorder<string>();
  let text = '';
  const parser = new SseParser(({ event, data }) => events.push({ event, data: JSON.parse(data) }));
  const req = http.get({ host: '127.0.0.1', port, path: '/registry/watch' }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      parser.push(chunk);
      raw.push((text += chunk));
    });
  });
  req.on('error', () => undefined);
  return { events, raw, close: () => req.destroy() };
}

describe('watch hub', () => {
  it('when changes land while the snapshot is being read, then each is sent once, after the snapshot', async () => {
    const early = registration();
    const late = registration();
    // A store whose snapshot read overlaps two changes: one it already holds, one it does not.
    const store = new (class extends MemoryStore {
      override async snapshot() {
        await this.register(early);
        const snapshot = await super.snapshot();
        await this.register(late);
        return snapshot;
      }
    })({ leaseMs: 5000 });
    const server = await serve(store);
    const watcher = watch(server.port);

    await watcher.events.waitFor((e) => e.event === 'up' && e.data.instance.instanceId === late.instanceId);

    expect(watcher.events.seen.map((e) => e.event)).toEqual(['snapshot', 'up']);
    expect(watcher.events.seen[0]?.data.instances.map((i: { instanceId: string }) => i.instanceId)).toEqual([
      early.instanceId,
    ]);
    watcher.close();
    await server.close();
  });

  it('sends a comment line as a keep-alive ping', async () => {
    const server = await serve(new MemoryStore({ leaseMs: 5000 }), { pingMs: 20 });
    const watcher = watch(server.port);

    expect(await watcher.raw.waitFor((text) => text.includes('\n: ping\n\n'))).toMatch(/^event: snapshot\n/);
    watcher.close();
    await server.close();
  });

  it('when a watcher goes away, then it is forgotten', async () => {
    const store = new MemoryStore({ leaseMs: 5000 });
    const server = await serve(store);
    const watcher = watch(server.port);
    await watcher.events.waitFor((e) => e.event === 'snapshot');
    expect(server.hub.size).toBe(1);

    watcher.close();
    await new Promise<void>(function wait(resolve) {
      if (server.hub.size === 0) resolve();
      else setImmediate(wait, resolve);
    });
    await store.register(registration()); // nothing is written to a closed socket
    expect(server.hub.size).toBe(0);
    await server.close();
  });

  it('when a watcher stops reading, then it is dropped rather than buffered without end', async () => {
    const store = new MemoryStore({ leaseMs: 5000 });
    const server = await serve(store, { maxBufferedBytes: 64 * 1024 });
    const reading = watch(server.port);
    await reading.events.waitFor((e) => e.event === 'snapshot');
    // A client that sends its request and then never reads a byte.
    const stalled = net.connect(server.port, '127.0.0.1', () => {
      stalled.write('GET /registry/watch HTTP/1.1\r\nhost: x\r\n\r\n');
      stalled.pause();
    });
    stalled.on('error', () => undefined);
    await new Promise<void>(function wait(resolve) {
      if (server.hub.size === 2) resolve();
      else setImmediate(wait, resolve);
    });

    // Big changes until the kernel's socket buffers are full and the hub's own queue grows past its limit.
    const big = registration({
      routes: Array.from({ length: 200 }, (_, i) => ({
        method: 'GET',
        path: `/a/long/path/number/${i}`,
        public: true,
        auth: 'user',
      })),
    });
    for (let i = 0; i < 5000 && server.hub.size === 2; i++) {
      await store.register(big);
      await new Promise(setImmediate); // let the sockets do their I/O, as between real requests
    }

    expect(server.hub.size).toBe(1);
    const marker = await store.register(registration());
    // The one left is the reading watcher: it still gets every change.
    await reading.events.waitFor(
      (e) => e.event === 'up' && e.data.instance.instanceId === marker.instance.instanceId,
    );
    reading.close();
    stalled.destroy();
    await server.close();
  });
});
