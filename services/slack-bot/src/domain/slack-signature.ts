import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Redis } from '@msa/service-kit';

export const MAX_AGE_S = 5 * 60;

export type Verdict = { ok: true } | { ok: false; code: string; message: string };

/**
 * Remembers signatures already used, for MAX_AGE_S: in Redis when there is one (so every bot
 * instance sees it), else in this process.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly redis: Redis | null,
    private readonly keyPrefix: string,
  ) {}

  /** True the first time a signature is offered, false for a replay. */
  async firstUse(signature: string, now = Date.now()): Promise<boolean> {
    if (this.redis && this.redis.status === 'ready') {
      try {
        const set = await this.redis.set(
          `${this.keyPrefix}slack:sig:${signature}`,
          '1',
          'PX',
          MAX_AGE_S * 1000,
          'NX',
        );
        return set === 'OK';
      } catch {
        // Redis failed mid-call: fall back to this process's memory
      }
    }
    for (const [sig, until] of this.seen) {
      if (until > now) break; // insertion order is expiry order
      this.seen.delete(sig);
    }
    if (this.seen.has(signature)) return false;
    if (this.seen.size >= 100_000) return false; // a flood of valid signatures is not what Slack sends
    this.seen.set(signature, now + MAX_AGE_S * 1000);
    return true;
  }
}

/**
 * Slack's request signing (v0): `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<raw body>` with the
 * app's signing secret, in `x-slack-signature`; the timestamp in `x-slack-request-timestamp`.
 * Compared in constant time; a timestamp more than five minutes off is refused (stale), and so is a
 * signature seen before within that time (a replay).
 */
export async function verifySlackRequest(
  secret: string,
  headers: { timestamp?: string; signature?: string },
  rawBody: Buffer,
  replays: ReplayGuard,
  now = Date.now(),
): Promise<Verdict> {
  const { timestamp, signature } = headers;
  if (!timestamp || !signature) {
    return {
      ok: false,
      code: 'SIGNATURE_MISSING',
      message: 'x-slack-signature and x-slack-request-timestamp are required',
    };
  }
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now / 1000 - Number(timestamp)) > MAX_AGE_S) {
    return {
      ok: false,
      code: 'SIGNATURE_STALE',
      message: 'the request timestamp is more than five minutes off',
    };
  }
  const expected = Buffer.from(signSlackRequest(secret, timestamp, rawBody), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, code: 'SIGNATURE_INVALID', message: 'the request signature does not match' };
  }
  if (!(await replays.firstUse(signature, now))) {
    return { ok: false, code: 'SIGNATURE_REPLAYED', message: 'this signed request was already received' };
  }
  return { ok: true };
}

export function signSlackRequest(secret: string, timestamp: string, rawBody: Buffer | string): string {
  const mac = createHmac('sha256', secret).update(`v0:${timestamp}:`).update(rawBody).digest('hex');
  return `v0=${mac}`;
}
