/**
 * The one small cache interface services use: Redis when REDIS_URL is set, in memory otherwise.
 * Operations throw when the backing store is down; a caller treating the cache as an optimisation
 * catches and falls back to its database.
 */
export interface Cache {
  readonly kind: 'redis' | 'memory';
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, ttlMs: number): Promise<void>;
  del(key: string): Promise<void>;
  /** Tell every replica (each subscriber, this one included) something changed, e.g. a key to drop. */
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, handler: (message: string) => void): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
