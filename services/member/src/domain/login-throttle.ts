import type { Redis } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';

/** The limits of login attempts; a `max` of 0 turns that layer off. */
export interface LoginLimits {
  /** Consecutive failed logins for one email from one client before it is refused (reset by a success). */
  maxFailsPerAccountClient: number;
  /** Failed logins from one client, whatever the email, within the window (a success does not reset it). */
  maxFailsPerClient: number;
  /** Failed logins for one email from all clients within the window: a guess spread over many addresses. */
  maxFailsPerAccount: number;
  /** How long failures are remembered. */
  windowS: number;
  /** How long a client (or an account) is refused once a limit is crossed. */
  blockS: number;
  /** After this many consecutive failures for one email from one client, each further attempt waits... */
  slowAfter: number;
  /** ...this long times the failures beyond `slowAfter` (before the password is checked). */
  slowMs: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  maxFailsPerAccountClient: 10,
  maxFailsPerClient: 100,
  maxFailsPerAccount: 50,
  windowS: 3600,
  blockS: 900,
  slowAfter: 3,
  slowMs: 250,
};

export type Admission = { ok: true; delayMs: number } | { ok: false; retryAfterS: number };

interface Layer {
  limiter: RateLimiterAbstract;
  key: (email: string, client: string) => string;
  /** A success wipes this layer's count (the consecutive-failures one) instead of only refunding the attempt. */
  resetOnSuccess: boolean;
}

/**
 * OWASP's layers against password guessing, on rate-limiter-flexible (Redis when given, so every member replica
 * shares the counts; memory otherwise): per email and client, per client, per email.
 *
 * Every attempt is counted when it starts (`admit`), not when it has failed: a burst of concurrent guesses cannot
 * all pass before the first failure is written. A success refunds the attempt (and clears the email-and-client
 * count); so does an attempt that ended for another reason than wrong credentials. Once an attempt crosses a
 * layer's limit, rate-limiter-flexible blocks that key for `blockS` and the store says how long is left, which
 * becomes Retry-After.
 *
 * An unknown email is counted exactly like a known one: the throttle itself never says which emails exist.
 */
export class LoginThrottle {
  private readonly layers: Layer[] = [];

  constructor(
    private readonly limits: LoginLimits,
    store: { redis: Redis | null; keyPrefix: string },
  ) {
    const make = (name: string, points: number): RateLimiterAbstract => {
      const opts = {
        points,
        duration: limits.windowS,
        blockDuration: limits.blockS,
        keyPrefix: `${store.keyPrefix}${name}`,
      };
      const memory = new RateLimiterMemory(opts);
      return store.redis
        ? new RateLimiterRedis({
            ...opts,
            storeClient: store.redis,
            // A Redis outage falls back at once to this instance's own counts: still limited, never open.
            rejectIfRedisNotReady: true,
            insuranceLimiter: memory,
          })
        : memory;
    };
    if (limits.maxFailsPerAccountClient > 0) {
      this.layers.push({
        limiter: make('ac', limits.maxFailsPerAccountClient),
        key: (email, client) => `${client}|${email}`,
        resetOnSuccess: true,
      });
    }
    if (limits.maxFailsPerClient > 0) {
      this.layers.push({
        limiter: make('c', limits.maxFailsPerClient),
        key: (_email, client) => client,
        resetOnSuccess: false,
      });
    }
    if (limits.maxFailsPerAccount > 0) {
      this.layers.push({
        limiter: make('a', limits.maxFailsPerAccount),
        key: (email) => email,
        resetOnSuccess: false,
      });
    }
  }

  /** Counts an attempt; says how long to wait before checking the password, or that it is refused. */
  async admit(email: string, client: string): Promise<Admission> {
    const results = await Promise.all(
      this.layers.map((l) =>
        l.limiter.consume(l.key(email, client)).then(
          (res) => ({ res, refused: false }),
          (err: unknown) => {
            // Refused: the store's answer. Anything else (Redis and its stand-in both failed) lets the attempt on.
            if (err instanceof RateLimiterRes) return { res: err, refused: true };
            return { res: null, refused: false };
          },
        ),
      ),
    );
    const refused = results.filter((r) => r.refused && r.res !== null);
    if (refused.length > 0) {
      // A refused attempt checks no password, so it is no guess against the layers that let it through: refunded
      // there, or an owner refused because their account is under attack would also wear out their own address.
      await Promise.all(
        this.layers.map((l, i) =>
          results[i]!.refused ? undefined : l.limiter.reward(l.key(email, client)).catch(() => undefined),
        ),
      );
      const ms = Math.max(...refused.map((r) => r.res!.msBeforeNext));
      return { ok: false, retryAfterS: Math.max(1, Math.ceil(ms / 1000)) };
    }
    const first = this.layers[0]?.resetOnSuccess ? results[0]?.res : null;
    const earlierFails = first ? first.consumedPoints - 1 : 0;
    const beyond = earlierFails - this.limits.slowAfter + 1;
    return { ok: true, delayMs: beyond > 0 ? beyond * this.limits.slowMs : 0 };
  }

  /** The password was right: the attempt is refunded, and the consecutive failures of this email here forgotten. */
  async succeeded(email: string, client: string): Promise<void> {
    await Promise.all(
      this.layers.map((l) => {
        const key = l.key(email, client);
        return (l.resetOnSuccess ? l.limiter.delete(key) : l.limiter.reward(key)).catch(() => undefined);
      }),
    );
  }

  /** The attempt ended without an answer on the credentials (e.g. the database was down): not a guess. */
  async refund(email: string, client: string): Promise<void> {
    await Promise.all(this.layers.map((l) => l.limiter.reward(l.key(email, client)).catch(() => undefined)));
  }
}
