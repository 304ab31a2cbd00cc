import { randomUUID } from 'node:crypto';
import { startEmbeddedPostgres, startService, type RunningService } from '@msa/service-kit';
import { createTestDatabase, signTestToken, testEnv } from '@msa/service-kit/testing';
import { service, type productConfig } from '../src/service';

export type ProductService = RunningService<typeof productConfig>;

export const DB_KIND = process.env.DATABASE_URL ? 'Postgres' : 'embedded PGlite';

/** A database URL several instances can share: a fresh database on CI's Postgres, or one embedded server. */
export async function sharedDatabase(): Promise<{ url: string; close(): Promise<void> }> {
  const db = await createTestDatabase();
  if (db.url) return { url: db.url, close: () => db.drop() };
  const embedded = await startEmbeddedPostgres('memory', 24);
  return { url: embedded.url, close: () => embedded.close() };
}

export function startProduct(env: Record<string, string | undefined> = {}): Promise<ProductService> {
  return startService(service, { env: testEnv({ SEED_CATALOG: 'false', ...env }), waitReady: true });
}

export interface Tokens {
  admin: string;
  customer: string;
  /** Another service calling with no member behind it (purchase → product). */
  service: string;
}

export async function tokens(): Promise<Tokens> {
  return {
    admin: await signTestToken({ sub: randomUUID(), role: 'admin' }),
    customer: await signTestToken({ sub: randomUUID(), role: 'customer' }),
    service: await signTestToken({ iss: 'purchase' }),
  };
}

/** A small client: JSON in, status and JSON out. */
export function client(baseUrl: string) {
  return async function call(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; rawBody?: string } = {},
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
  ): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = {};
    if (opts.token) headers['x-internal-token'] = opts.token;
    const payload = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(baseUrl + path, { method, headers, body: payload });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
}

export const product = (over: Partial<Record<string, unknown>> = {}) => ({
  name: 'Test product',
  description: 'for tests',
  category: 'tests',
  price: 10,
  stock: 5,
  ...over,
});
