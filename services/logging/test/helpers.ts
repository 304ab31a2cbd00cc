import { randomUUID } from 'node:crypto';
import { startService, type RunningService } from '@msa/service-kit';
import { signTestToken, testEnv } from '@msa/service-kit/testing';
import {
  buildLoggingService,
  partsOf,
  service,
  type LoggingOptions,
  type loggingConfig,
} from '../src/service';

export type LoggingService = RunningService<typeof loggingConfig>;

export const QUEUE_KIND = process.env.REDIS_URL ? 'a Redis stream' : 'memory';

export function startLogging(
  env: Record<string, string | undefined> = {},
  options?: LoggingOptions,
): Promise<LoggingService> {
  return startService(options ? buildLoggingService(options) : service, {
    env: testEnv(env),
    waitReady: true,
  });
}

export const parts = (svc: LoggingService) => partsOf(svc.ctx);

/** Until the indexer has emptied the queue (bounded: fails the test after ~20 s; CI's busy cores need more than 5). */
export async function drained(svc: LoggingService): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if ((await parts(svc).queue.depth()) === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the queue did not drain');
}

let seq = 0;
/** One line as the kit's logger writes it, plus the shipper's logId. */
export function line(over: Record<string, unknown> = {}): Record<string, unknown> {
  seq++;
  return {
    level: 'info',
    time: new Date(Date.UTC(2026, 10, 25, 8, 0, 0, seq)).toISOString(),
    service: 'product',
    instance: 'product-test-1',
    message: `line ${seq}`,
    logId: `test-${randomUUID()}`,
    ...over,
  };
}

export async function serviceToken(): Promise<string> {
  return signTestToken({ iss: 'gateway' });
}

export function client(baseUrl: string, token: () => Promise<string> = serviceToken) {
  return async function call(
    method: string,
    path: string,
    opts: { body?: unknown; rawBody?: string; token?: string | null } = {},
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
  ): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = {};
    const t = opts.token === undefined ? await token() : opts.token;
    if (t) headers['x-internal-token'] = t;
    const payload = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(baseUrl + path, { method, headers, body: payload });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
}
