// Starts the real distributor in this process on port 0, through the kit, as production does.
import Redis from 'ioredis';
import { INTERNAL_TOKEN_HEADER, SseParser } from '@msa/service-kit';
import { signTestToken, startService, testEnv, uniquePrefix } from '@msa/service-kit/testing';
import { service } from '../../src/service';
import { Recorder, REDIS_URL } from './fixtures';

// The Redis key prefixes this test file used, so that it can leave the shared Redis as it found it.
const prefixes = new Set<string>();

export async function dropRedisKeys(): Promise<void> {
  if (!REDIS_URL || prefixes.size === 0) return;
  const redis = new Redis(REDIS_URL);
  const names = ['records', 'heartbeats', 'leases', 'revision'];
  await redis.del(...[...prefixes].flatMap((prefix) => names.map((name) => `${prefix}registry:${name}`)));
  await redis.quit();
}

export interface WatchEvent {
  event: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the test reads what it expects
  data: any;
}

export type TestDistributor = Awaited<ReturnType<typeof startDistributor>>;

export async function startDistributor(env: Record<string, string | undefined> = {}) {
  const prefix = env.REDIS_KEY_PREFIX ?? uniquePrefix();
  prefixes.add(prefix);
  const running = await startService(service, {
    env: testEnv({ ...env, REDIS_KEY_PREFIX: prefix }),
    waitReady: true,
  });
  const token = await signTestToken({ iss: 'member' });

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(running.url + path, {
      method,
      headers: { [INTERNAL_TOKEN_HEADER]: token, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the test reads what it expects
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as any };
  }

  return {
    url: running.url,
    port: running.port,
    ctx: running.ctx,
    call,
    watch: () => openWatch(running.url, token),
    // Watchers are left open: the distributor ends their streams itself.
    stop: () => running.stop(),
  };
}

export interface Watch {
  status: number;
  contentType: string | null;
  events: Recorder<WatchEvent>;
  // 'ended' when the server ended the stream, 'broken' when the connection was cut or closed by us.
  ended: Promise<'ended' | 'broken'>;
  close(): void;
}

// A watcher as the kit's RegistryWatcher is one: fetch, then parse the stream as it arrives.
export async function openWatch(url: string, token: string): Promise<Watch> {
  const abort = new AbortController();
  const res = await fetch(`${url}/registry/watch`, {
    headers: { [INTERNAL_TOKEN_HEADER]: token },
    signal: abort.signal,
  });
  const events = new Recorder<WatchEvent>();
  const parser = new SseParser(({ event, data }) => events.push({ event, data: JSON.parse(data) }));
  const ended = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>)
        parser.push(decoder.decode(chunk, { stream: true }));
      return 'ended' as const;
    } catch {
      return 'broken' as const;
    }
  })();
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    events,
    ended,
    close: () => abort.abort(),
  };
}
