import { EventEmitter } from 'node:events';
import { LRUCache } from 'lru-cache';
import type { Cache } from './cache';

/** The embedded default: a bounded in-process LRU; publish reaches this process's subscribers only. */
export class MemoryCache implements Cache {
  readonly kind = 'memory' as const;
  private readonly entries = new LRUCache<string, { json: string }>({ max: 10000 });
  private readonly bus = new EventEmitter();

  async get<T>(key: string): Promise<T | undefined> {
    const hit = this.entries.get(key);
    // Stored as JSON so callers get a copy, exactly as they would from Redis.
    return hit ? (JSON.parse(hit.json) as T) : undefined;
  }
  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    this.entries.set(key, { json: JSON.stringify(value) }, { ttl: ttlMs });
  }
  async del(key: string): Promise<void> {
    this.entries.delete(key);
  }
  async publish(channel: string, message: string): Promise<void> {
    this.bus.emit(channel, message);
  }
  async subscribe(channel: string, handler: (message: string) => void): Promise<void> {
    this.bus.on(channel, handler);
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {
    this.bus.removeAllListeners();
    this.entries.clear();
  }
}
