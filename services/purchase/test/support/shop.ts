// The real shop in this process: distributor, product and purchase, each on port 0.
import { startEmbeddedPostgres, startService, type RunningService } from '@msa/service-kit';
import { createTestDatabase, testEnv } from '@msa/service-kit/testing';
import { service as distributorService } from '@msa/distributor/dist/service';
import { service as productService } from '@msa/product/dist/service';
import { service as purchaseService } from '../../src/service';
import { call, eventually, newMember, type Member } from './client';

type Running = RunningService<never>;

/** A database that outlives the service using it (product is stopped and started again): CI's Postgres or one embedded server. */
async function durableDatabase(): Promise<{ url: string; close(): Promise<void> }> {
  const db = await createTestDatabase();
  if (db.url) return { url: db.url, close: () => db.drop() };
  const embedded = await startEmbeddedPostgres('memory', 24);
  return { url: embedded.url, close: () => embedded.close() };
}

// Fast reconciler for tests; "old enough" stays well above a request's own round trip.
const RECONCILE = { RECONCILE_INTERVAL_MS: '50', RECONCILE_AFTER_MS: '500', RECONCILE_LEASE_MS: '500' };
// The domain's largest order, so the overflow test can buy it; the shop's lower default is tested on its own.
const LIMITS = { MAX_QUANTITY_PER_ORDER: '100' };

export class Shop {
  distributor!: Running;
  product!: Running;
  purchase!: Running;
  readonly admin: Member = newMember('admin');
  /** Stock each product was created with, for the invariant check. */
  readonly initialStock = new Map<string, number>();
  private productDb!: { url: string; close(): Promise<void> };
  private purchaseDb!: { url: string; close(): Promise<void> };
  private extra: Running[] = [];
  private extraDbs: { close(): Promise<void> }[] = [];

  async start() {
    this.distributor = (await startService(distributorService, {
      env: testEnv({ DISTRIBUTOR_URL: '', PORT: '0' }),
      waitReady: true,
    })) as unknown as Running;
    [this.productDb, this.purchaseDb] = await Promise.all([durableDatabase(), durableDatabase()]);
    await this.startProduct();
    this.purchase = await this.startPurchase();
  }

  async startProduct() {
    this.product = (await startService(productService, {
      env: testEnv({
        DISTRIBUTOR_URL: this.distributor.url,
        DATABASE_URL: this.productDb.url,
        SEED_CATALOG: 'false',
      }),
      waitReady: true,
    })) as unknown as Running;
    await eventually(
      async () => this.purchase?.ctx.registry.instances('product').length ?? 1,
      (n) => n > 0,
    );
  }

  async stopProduct() {
    await this.product.stop();
    // Wait until purchase has seen it go, so the next call really finds no product.
    await eventually(
      async () => this.purchase.ctx.registry.instances('product').length,
      (n) => n === 0,
    );
  }

  /** Another purchase instance on the same database (e.g. with a fault injected). */
  async startPurchase(env: Record<string, string> = {}): Promise<Running> {
    const svc = (await startService(purchaseService, {
      env: testEnv({
        DISTRIBUTOR_URL: this.distributor.url,
        DATABASE_URL: this.purchaseDb.url,
        ...RECONCILE,
        ...LIMITS,
        ...env,
      }),
      waitReady: true,
    })) as unknown as Running;
    if (this.purchase) this.extra.push(svc);
    return svc;
  }

  /**
   * A purchase instance on a database of its own, whose reconciler alone decides when a purchase is old
   * enough (RECONCILE_AFTER_MS 10 min): a test backdates a purchase to hand it over at a moment it chose.
   */
  async startIsolatedPurchase(env: Record<string, string> = {}): Promise<Running> {
    const db = await durableDatabase();
    this.extraDbs.push(db);
    const svc = (await startService(purchaseService, {
      env: testEnv({
        DISTRIBUTOR_URL: this.distributor.url,
        DATABASE_URL: db.url,
        ...RECONCILE,
        ...LIMITS,
        RECONCILE_AFTER_MS: '600000',
        ...env,
      }),
      waitReady: true,
    })) as unknown as Running;
    this.extra.push(svc);
    return svc;
  }

  /**
   * Makes a purchase look `ms` older, as if that time had passed: last changed then (so the reconciler
   * takes it), and also made then when `made` (so its hold has expired).
   */
  async backdate(svc: Running, purchaseId: string, ms: number, made = false) {
    const shift = `- make_interval(secs => $2::double precision / 1000)`;
    const sets = made
      ? `updated_at = updated_at ${shift}, created_at = created_at ${shift}`
      : `updated_at = updated_at ${shift}`;
    await svc.ctx.db.query(`UPDATE purchases SET ${sets} WHERE id = $1`, [purchaseId, ms]);
  }

  async deleteProduct(productId: string) {
    const res = await call(this.product.url, this.admin, 'DELETE', `/products/${productId}`);
    if (res.status !== 204) throw new Error(`could not delete a product: ${JSON.stringify(res.body)}`);
    this.initialStock.delete(productId);
  }

  async reservationOf(purchaseId: string) {
    const { rows } = await this.product.ctx.db.query('SELECT * FROM reservations WHERE purchase_id = $1', [
      purchaseId,
    ]);
    return rows[0];
  }

  async stop() {
    await Promise.all(this.extra.map((s) => s.stop()));
    await Promise.all(this.extraDbs.map((d) => d.close()));
    await this.purchase?.stop();
    await this.product?.stop();
    await this.distributor?.stop();
    await Promise.all([this.productDb?.close(), this.purchaseDb?.close()]);
  }

  async createProduct(stock: number, price = 12.5): Promise<string> {
    const res = await call(this.product.url, this.admin, 'POST', '/products', {
      body: { name: `Test ${stock}`, description: 'for purchase tests', category: 'tests', price, stock },
    });
    if (res.status !== 201) throw new Error(`could not create a product: ${JSON.stringify(res.body)}`);
    const id: string = res.body.id ?? res.body.product.id;
    this.initialStock.set(id, stock);
    return id;
  }

  /** Straight from product's database: no cache between the test and the truth. */
  async stockOf(productId: string): Promise<number> {
    const { rows } = await this.product.ctx.db.query('SELECT stock FROM products WHERE id = $1', [productId]);
    return rows[0].stock;
  }

  async purchaseRow(id: string) {
    const { rows } = await this.purchase.ctx.db.query('SELECT * FROM purchases WHERE id = $1', [id]);
    return rows[0];
  }
}
