import { startService, type RunningService } from '@msa/service-kit';
import { signTestToken, testEnv } from '@msa/service-kit/testing';
import type { configShape } from '../../src/config';
import { service } from '../../src/service';

export type MemberService = RunningService<typeof configShape>;

export const startMember = (env: Record<string, string | undefined> = {}): Promise<MemberService> =>
  startService(service, { env: testEnv(env), waitReady: true });

export interface CallOptions {
  method?: string;
  body?: unknown;
  /** The member on whose behalf the gateway calls; omitted → a call with no member. */
  as?: { sub: string; role?: 'customer' | 'admin' };
  /** false → no internal token at all. */
  internalToken?: boolean;
}

/** Calls the service as the gateway would: with an internal token, optionally carrying a member. */
export function caller(svc: () => MemberService) {
  return async (path: string, opts: CallOptions = {}) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (opts.internalToken !== false) {
      headers['x-internal-token'] = await signTestToken(
        opts.as ? { sub: opts.as.sub, role: opts.as.role ?? 'customer' } : {},
      );
    }
    const res = await fetch(svc().url + path, {
      method: opts.method ?? 'GET',
      headers,
      ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
    });
    const text = await res.text();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const json: any = text ? JSON.parse(text) : undefined;
    return { status: res.status, text, json, headers: res.headers };
  };
}
