// The few shop calls the benchmarks need to set themselves up, made through the gateway as a user would.
import { randomUUID } from 'node:crypto';

export const DEV_ADMIN = { email: 'admin@msa.local', password: 'admin-password-change-me' };

export async function call<T = unknown>(
  base: string,
  method: string,
  path: string,
  opts: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; data: T }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await fetch(base + path, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let data: unknown = text;
  try {
    data = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, data: data as T };
}

async function expectStatus<T>(
  p: Promise<{ status: number; data: T }>,
  what: string,
  ok: number[],
): Promise<T> {
  const { status, data } = await p;
  if (!ok.includes(status)) throw new Error(`${what}: ${status} ${JSON.stringify(data).slice(0, 300)}`);
  return data;
}

export function uniqueEmail(prefix = 'bench'): string {
  return `${prefix}-${randomUUID().slice(0, 12)}@bench.example`;
}

export const BENCH_PASSWORD = 'bench-password-1234';

/** Registers a new customer and logs in: its member token. */
export async function newMember(base: string): Promise<string> {
  const email = uniqueEmail();
  await expectStatus(
    call(base, 'POST', '/members', { body: { email, password: BENCH_PASSWORD, name: 'Bench User' } }),
    'register',
    [201],
  );
  return login(base, email, BENCH_PASSWORD);
}

export async function login(base: string, email: string, password: string): Promise<string> {
  const data = await expectStatus(
    call<{ token: string }>(base, 'POST', '/members/login', { body: { email, password } }),
    'login',
    [200],
  );
  return data.token;
}

export interface Product {
  id: string;
  name: string;
  stock: number;
}

export async function listProducts(base: string): Promise<Product[]> {
  const data = await expectStatus(
    call<{ items?: Product[]; products?: Product[] } | Product[]>(base, 'GET', '/products?limit=100'),
    'list products',
    [200],
  );
  return Array.isArray(data) ? data : (data.items ?? data.products ?? []);
}

/** A product with stock enough for a long purchase run, created as admin; undefined if the admin cannot log in. */
export async function stockedProduct(base: string, admin = DEV_ADMIN): Promise<string | undefined> {
  let token: string;
  try {
    token = await login(base, admin.email, admin.password);
  } catch {
    return undefined;
  }
  const product = await expectStatus(
    call<Product>(base, 'POST', '/products', {
      token,
      body: {
        name: `Bench item ${randomUUID().slice(0, 8)}`,
        description: 'Made by the load generator, with a deep stock.',
        category: 'bench',
        price: 9.99,
        stock: 1_000_000,
      },
    }),
    'create product',
    [201],
  );
  return product.id;
}
