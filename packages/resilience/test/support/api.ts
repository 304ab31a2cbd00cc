// A small client for the shop through its gateway, and a bounded steady load.
import { randomUUID } from 'node:crypto';

export interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  headers: Headers;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** status 0 = no answer at all (connection refused or reset, or the timeout). */
export async function call(
  base: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Answer> {
  const hasBody = options.body !== undefined || options.rawBody !== undefined;
  try {
    const res = await fetch(base + path, {
      method,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(hasBody ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: kept as text, and the tests that need JSON say so
    }
    return { status: res.status, body, headers: res.headers };
  } catch (err) {
    return {
      status: 0,
      body: { code: 'NO_ANSWER', detail: (err as Error).message },
      headers: new Headers(),
    };
  }
}

export const ADMIN = { email: 'admin@msa.local', password: 'admin-password-change-me' };

export async function login(base: string, email: string, password: string): Promise<string> {
  const res = await call(base, 'POST', '/members/login', { body: { email, password } });
  if (res.status !== 200) throw new Error(`login ${email}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.token as string;
}

export interface Member {
  id: string;
  email: string;
  token: string;
}

export async function newMember(base: string): Promise<Member> {
  const email = `m-${randomUUID()}@test.invalid`;
  const password = 'correct horse battery';
  const res = await call(base, 'POST', '/members', { body: { email, password, name: 'Load Tester' } });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.id as string, email, token: await login(base, email, password) };
}

export async function createProduct(base: string, adminToken: string, stock: number): Promise<string> {
  const res = await call(base, 'POST', '/products', {
    token: adminToken,
    body: { name: `Resilience ${randomUUID().slice(0, 8)}`, category: 'test', price: 2.5, stock },
  });
  if (res.status !== 201) throw new Error(`create product: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

export function buy(base: string, token: string, productId: string, quantity: number, key = randomUUID()) {
  return call(base, 'POST', '/purchases', {
    token,
    body: { productId, quantity },
    headers: { 'idempotency-key': key },
  });
}

export interface LoadResult {
  sent: number;
  /** Answers by status (0 = no answer). */
  byStatus: Record<number, number>;
  answers: Answer[];
  durationMs: number;
}

/**
 * Starts `fn(i)` every 1000/rate ms (open loop: a slow answer does not slow the load) for at least
 * `minMs`, and on while `during` (the fault) is still running, 500 ms past its end, never beyond
 * `maxMs`; then waits for every call to settle and counts the answers.
 */
export async function steadyLoad(
  rate: number,
  minMs: number,
  fn: (i: number) => Promise<Answer>,
  during?: () => Promise<void>,
  maxMs = 30000,
): Promise<LoadResult> {
  const started = Date.now();
  const calls: Promise<Answer>[] = [];
  let duringEnded: number | undefined = during ? undefined : started;
  const duringDone = during?.().finally(() => (duringEnded = Date.now()));
  for (let i = 0; ; i++) {
    const due = started + (i * 1000) / rate;
    const endAt = Math.min(
      started + maxMs,
      Math.max(started + minMs, duringEnded === undefined ? Infinity : duringEnded + 500),
    );
    if (due >= endAt) break;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    calls.push(fn(i));
  }
  const answers = await Promise.all(calls);
  await duringDone;
  const byStatus: Record<number, number> = {};
  for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
  return { sent: calls.length, byStatus, answers, durationMs: Date.now() - started };
}

/** Answers that are failures by the brief's measure: no answer, or a 5xx. */
export const failures = (r: LoadResult) => r.answers.filter((a) => a.status === 0 || a.status >= 500);
