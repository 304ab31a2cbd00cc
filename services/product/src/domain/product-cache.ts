import type { Cache, Logger } from '@msa/service-kit';
import type { Product } from './catalog';

export const INVALIDATE_CHANNEL = 'product-invalidate';
const key = (id: string) => `product:${id}`;

/**
 * Cache-aside for single products. The cache is an optimisation: every cache error falls back to
 * the database, and an outage is logged once when it starts and once when it ends — not per request.
 */
export class ProductCache {
  private down = false;
  /**
   * Only a shared cache (Redis) is used. A per-process memory cache (no REDIS_URL) never hears another
   * instance's invalidations, so with two instances (`npm start -- --scale product=2`) one would serve its
   * stale copy — old stock, old price — until the TTL: without Redis every read goes to the database.
   */
  private readonly shared: boolean;

  constructor(
    private readonly cache: Cache,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {
    this.shared = cache.kind === 'redis';
  }

  /** Drops the key on every replica's behalf; also announced, so a replica with a local copy drops it too. */
  async listen(): Promise<void> {
    await this.cache.subscribe(INVALIDATE_CHANNEL, (id) => {
      this.cache.del(key(id)).catch((err: Error) => this.failed(err));
    });
  }

  async read(id: string, load: () => Promise<Product | undefined>): Promise<Product | undefined> {
    if (!this.shared) return load();
    const hit = await this.attempt(() => this.cache.get<Product>(key(id)));
    if (hit) return hit;
    const product = await load();
    if (product) await this.attempt(() => this.cache.set(key(id), product, this.ttlMs));
    return product;
  }

  /**
   * Called after the change committed. If Redis is away the delete is lost; the TTL bounds how long
   * a stale copy can live once it is back.
   */
  async invalidate(id: string): Promise<void> {
    await this.attempt(() => this.cache.del(key(id)));
    await this.attempt(() => this.cache.publish(INVALIDATE_CHANNEL, id));
  }

  private async attempt<T>(op: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await op();
      if (this.down) {
        this.down = false;
        this.logger.info('product cache reachable again');
      }
      return result;
    } catch (err) {
      this.failed(err as Error);
      return undefined;
    }
  }

  private failed(err: Error): void {
    if (this.down) return;
    this.down = true;
    this.logger.warn({ err: err.message }, 'product cache unavailable; reading from the database');
  }
}
