import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';

export interface RateLimitOptions {
  points: number;
  windowS: number;
  /** Shared across gateway replicas when given; a memory limiter stands in while Redis fails. */
  redis?: Redis | null;
  keyPrefix?: string;
  /** How many distinct blocked clients the local gate remembers. */
  maxBlocked?: number;
}

/**
 * Rate limiting per client, kept off the request's critical path. The decision is a synchronous lookup in a local
 * gate of blocked clients; every allowed request also consumes a point through rate-limiter-flexible, without being
 * awaited. When a consume leaves the client with no points (or is refused) the client is blocked locally until the
 * window ends, so the next request gets 429 at the cost of a map lookup.
 *
 * Cost per allowed request: one lookup plus one un-awaited consume (in memory: a map update; with Redis: one
 * pipelined Lua call per request, CPU spent but no wait). Precision: exact for a client's sequential requests; a
 * burst of concurrent requests can overshoot by the requests in flight during one consume (one Redis round trip),
 * and each further gateway replica by as much again.
 */
export class RateLimit {
  private readonly limiter: RateLimiterAbstract;
  private readonly blocked: LRUCache<string, number>;
  private consuming = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(opts: RateLimitOptions) {
    const memory = new RateLimiterMemory({
      points: opts.points,
      duration: opts.windowS,
      keyPrefix: opts.keyPrefix ?? 'gateway-rl',
    });
    this.limiter = opts.redis
      ? new RateLimiterRedis({
          storeClient: opts.redis,
          points: opts.points,
          duration: opts.windowS,
          keyPrefix: opts.keyPrefix ?? 'gateway-rl',
          rejectIfRedisNotReady: true, // a Redis outage falls to the insurance limiter at once, no queueing
          insuranceLimiter: memory,
        })
      : memory;
    this.blocked = new LRUCache({ max: opts.maxBlocked ?? 100000, ttlAutopurge: false });
  }

  /** 0 when the request may go; otherwise the milliseconds until this client may try again. */
  check(key: string): number {
    const until = this.blocked.get(key);
    if (until !== undefined) {
      const wait = until - Date.now();
      if (wait > 0) return wait;
    }
    // One callback for both outcomes: allowed and refused both carry a RateLimiterRes; a plain error (Redis and
    // the insurance limiter both failed) lets traffic through rather than blocking everyone.
    const settle = (res: unknown): void => {
      if (res instanceof RateLimiterRes && res.remainingPoints <= 0) this.block(key, res.msBeforeNext);
      if (--this.consuming === 0 && this.idleWaiters.length > 0) {
        for (const wake of this.idleWaiters.splice(0)) wake();
      }
    };
    this.consuming++;
    this.limiter.consume(key).then(settle, settle);
    return 0;
  }

  /** Resolves once every consume fired so far has been counted (tests use it to step without timing). */
  settled(): Promise<void> {
    return this.consuming === 0
      ? Promise.resolve()
      : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private block(key: string, ms: number): void {
    if (ms > 0) this.blocked.set(key, Date.now() + ms, { ttl: ms });
  }
}
