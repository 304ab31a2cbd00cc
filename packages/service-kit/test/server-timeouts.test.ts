// Slow-loris clients: headers or a body sent a little at a time, to hold a connection open for nothing.
import net from 'node:net';
import { startService, type RunningService } from '../src';
import { signTestToken, testEnv } from '../src/testing';
import { echoService } from './fixtures/echo-service';

/** Writes `data` on a fresh connection and reads until the server closes it (or `waitMs`, then status 0). */
function rawExchange(url: string, data: string, waitMs = 8000): Promise<{ text: string; closed: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    let text = '';
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(done, waitMs);
    socket.on('connect', () => socket.write(data));
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      done();
    });
  });
}

describe('server timeouts (HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS)', () => {
  let svc: RunningService<typeof echoService extends { config?: infer S } ? S : never>;

  beforeAll(async () => {
    svc = await startService(echoService, {
      env: testEnv({ HEADERS_TIMEOUT_MS: '1000', REQUEST_TIMEOUT_MS: '2000' }),
      waitReady: true,
    });
  });
  afterAll(() => svc.stop());

  it('when a client never finishes its headers, then 408 and the connection is closed', async () => {
    const answer = await rawExchange(svc.url, 'GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: a');
    expect(answer.closed).toBe(true);
    expect(answer.text).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('when a client never finishes its body, then 408 and the connection is closed', async () => {
    const token = await signTestToken();
    const answer = await rawExchange(
      svc.url,
      `POST /items HTTP/1.1\r\nHost: x\r\nX-Internal-Token: ${token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na`,
    );
    expect(answer.closed).toBe(true);
    expect(answer.text).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('when a keep-alive connection idles longer than the headers timeout, then its next request is still served', async () => {
    const { hostname, port } = new URL(svc.url);
    const socket = net.connect(Number(port), hostname);
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    const request = 'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n';
    try {
      await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
      socket.write(request);
      await new Promise((r) => setTimeout(r, 2500));
      socket.write(request);
      for (let i = 0; i < 100 && (text.match(/HTTP\/1\.1 200/g) ?? []).length < 2; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(text.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
    } finally {
      socket.destroy();
    }
  });

  it('when a timeout is set below one second, then the service refuses to start', async () => {
    const started = startService(echoService, { env: testEnv({ HEADERS_TIMEOUT_MS: '10' }) });
    await expect(started).rejects.toThrow(/HEADERS_TIMEOUT_MS/);
    await started.then((s) => s.stop()).catch(() => undefined); // stopped, should it have started
  });
});
