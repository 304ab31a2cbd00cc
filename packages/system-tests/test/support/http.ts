import { INTERNAL_TOKEN_HEADER, SseParser, problemSchema, type InstanceRecord } from '@msa/service-kit';

export interface Answer {
  status: number;
  headers: Headers;
  /** Parsed JSON when the answer is JSON, else the text. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests assert on its shape
}

export interface CallOptions {
  body?: unknown;
  /** A member token, sent as a Bearer. */
  token?: string;
  internalToken?: string;
  headers?: Record<string, string>;
}

/** One HTTP call with a JSON body; never throws on a status. Every call has a timeout. */
export async function call(
  baseUrl: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.internalToken) headers[INTERNAL_TOKEN_HEADER] = options.internalToken;
  const res = await fetch(baseUrl + path, {
    method,
    headers,
    body:
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  const json = /^application\/(problem\+)?json/.test(res.headers.get('content-type') ?? '');
  return { status: res.status, headers: res.headers, body: json && text ? JSON.parse(text) : text };
}

/**
 * An error answer: problem details (RFC 9457, docs/errors.md) with this status (and code): the content type, every
 * standard member, and the request id as its instance.
 */
export const expectJsonError = (answer: Answer, status: number, code?: string) => {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(problemSchema.parse(answer.body)).toMatchObject({
    status,
    type: `urn:msa:problem:${answer.body.code.toLowerCase().replace(/_/g, '-')}`,
    instance: answer.headers.get('x-request-id'),
  });
  if (code) expect(answer.body.code).toBe(code);
};

/** Retries `check` until it gives a value, every 50 ms, at most `withinMs`; the error names what never came. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  withinMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + withinMs;
  let last: unknown;
  for (let round = 0; round < 10_000; round++) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `${what}: not within ${withinMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`,
  );
}

export interface RegistryEvents {
  snapshot: { revision: number; leaseMs: number; instances: InstanceRecord[] };
  up: { revision: number; instance: InstanceRecord };
  down: { revision: number; instanceId: string; service: string; reason: 'deregistered' | 'lease-expired' };
  stats: { instanceId: string; service: string };
}

export interface RegistryEvent {
  event: string;
  data: unknown;
}

/** The distributor's watch stream, as a test sees it: every event kept, and a way to wait for one. */
export class RegistryStream {
  readonly events: RegistryEvent[] = [];
  private readonly abort = new AbortController();
  private readonly waiters = new Set<() => void>();
  private ended = false;

  private constructor() {}

  static async open(distributorUrl: string, internalToken: string): Promise<RegistryStream> {
    const stream = new RegistryStream();
    const res = await fetch(`${distributorUrl}/registry/watch`, {
      headers: { [INTERNAL_TOKEN_HEADER]: internalToken, accept: 'text/event-stream' },
      signal: stream.abort.signal,
    });
    if (res.status !== 200 || !res.body) throw new Error(`watch answered ${res.status}`);
    const parser = new SseParser(({ event, data }) => {
      stream.events.push({ event, data: JSON.parse(data) as unknown });
      for (const wake of stream.waiters) wake();
    });
    const decoder = new TextDecoder();
    void (async () => {
      try {
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          parser.push(decoder.decode(chunk, { stream: true }));
        }
      } catch {
        // aborted, or the distributor went away
      } finally {
        stream.ended = true;
        for (const wake of stream.waiters) wake();
      }
    })();
    return stream;
  }

  /** The first event (already seen or still to come) that matches; rejects after `withinMs`. */
  waitFor<E extends keyof RegistryEvents>(
    event: E,
    matches: (data: RegistryEvents[E]) => boolean,
    withinMs = 15_000,
  ): Promise<RegistryEvents[E]> {
    const find = (): RegistryEvents[E] | undefined =>
      this.events.find((e) => e.event === event && matches(e.data as RegistryEvents[E]))?.data as
        RegistryEvents[E] | undefined;
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const check = (): void => {
        const found = find();
        if (found) {
          done();
          resolve(found);
        } else if (this.ended) {
          done();
          reject(new Error(`the watch stream ended before a matching ${event} event`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching ${event} event within ${withinMs} ms`));
      }, withinMs);
      this.waiters.add(check);
      check();
    });
  }

  close(): void {
    this.abort.abort();
  }
}

export interface LoadResult {
  sent: number;
  failures: { status: number | string; body: string }[];
}

/**
 * A bounded steady load: `workers` loops, each sending one request after another, until `stop()` resolves
 * or `maxRequests` are sent. Every answer that is not `expected` is kept as a failure.
 */
export async function steadyLoad(
  send: () => Promise<Response>,
  {
    workers,
    maxRequests,
    until,
    expected = 200,
  }: { workers: number; maxRequests: number; until: Promise<unknown>; expected?: number },
): Promise<LoadResult> {
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  until.then(stop, stop);
  const result: LoadResult = { sent: 0, failures: [] };
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (!stopped && result.sent < maxRequests) {
        result.sent++;
        try {
          const res = await send();
          const body = await res.text();
          if (res.status !== expected) result.failures.push({ status: res.status, body: body.slice(0, 300) });
        } catch (err) {
          result.failures.push({ status: 'network', body: (err as Error).message });
        }
      }
    }),
  );
  return result;
}
