import type { Logger } from 'pino';
import type { Cache } from './cache';
import { createRedis, type Redis } from './redis';

/** Cache on Redis: shared by every replica, so one replica's invalidation is every replica's. */
export class RedisCache implements Cache {
  readonly kind = 'redis' as const;
  private subscriber: Redis | undefined;
  private readonly handlers = new Map<string, Array<(message: string) => void>>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly url: string,
    private readonly logger: Logger,
  ) {}

  async get<T>(key: string): Promise<T | undefined> {
    const raw = await this.redis.get(this.prefix + key);
    return raw === null ? undefined : (JSON.parse(raw) as T);
  }
  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    await this.redis.set(this.prefix + key, JSON.stringify(value), 'PX', Math.max(1, Math.round(ttlMs)));
  }
  async del(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }
  async publish(channel: string, message: string): Promise<void> {
    await this.redis.publish(this.prefix + channel, message);
  }
  async subscribe(channel: string, handler: (message: string) => void): Promise<void> {
    // Pub/sub needs a connection of its own; it re-subscribes by itself after a reconnect.
    if (!this.subscriber) {
      this.subscriber = createRedis(this.url, this.logger, 'redis-subscriber');
      this.subscriber.on('message', (ch: string, msg: string) => {
        for (const h of this.handlers.get(ch) ?? []) h(msg);
      });
      // A subscribe refused while Redis was away is not retried by ioredis: renew all on every (re)connect.
      this.subscriber.on('ready', () => {
        const channels = [...this.handlers.keys()];
        if (channels.length) this.subscriber?.subscribe(...channels).catch(() => undefined);
      });
      await this.subscriber.connect().catch(() => undefined);
    }
    const full = this.prefix + channel;
    this.handlers.set(full, [...(this.handlers.get(full) ?? []), handler]);
    await this.subscriber.subscribe(full).catch((err: Error) => {
      this.logger.warn({ err: err.message, channel }, 'subscribe failed; will apply on reconnect');
    });
  }
  async ping(): Promise<void> {
    await this.redis.ping();
  }
  async close(): Promise<void> {
    this.subscriber?.disconnect();
  }
}
