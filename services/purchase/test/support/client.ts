import { randomUUID } from 'node:crypto';
import { signTestToken } from '@msa/service-kit/testing';

export interface Member {
  id: string;
  role: 'customer' | 'admin';
}

export const newMember = (role: Member['role'] = 'customer'): Member => ({ id: randomUUID(), role });

export interface Answer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** Calls a service as the gateway does for a signed-in member (or for nobody, with `member` undefined). */
export async function call(
  baseUrl: string,
  member: Member | undefined,
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const token = await signTestToken(member ? { sub: member.id, role: member.role } : {});
  const hasBody = options.body !== undefined || options.rawBody !== undefined;
  const res = await fetch(baseUrl + path, {
    method,
    headers: {
      'x-internal-token': token,
      ...(hasBody ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** Buys with a fresh Idempotency-Key unless one is given; `null` sends none. */
export const buyAs = (baseUrl: string, member: Member, body: unknown, key: string | null = randomUUID()) =>
  call(baseUrl, member, 'POST', '/purchases', {
    body,
    headers: key === null ? {} : { 'idempotency-key': key },
  });

/** Waits for a condition without timing anything: bounded by attempts, not asserted on speed. */
export async function eventually<T>(
  probe: () => Promise<T>,
  done: (v: T) => boolean,
  attempts = 200,
): Promise<T> {
  let last = await probe();
  for (let i = 0; i < attempts && !done(last); i++) {
    await new Promise((r) => setTimeout(r, 50));
    last = await probe();
  }
  return last;
}
