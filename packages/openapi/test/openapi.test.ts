import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  startService,
  z,
  type RouteSpec,
  type RunningService,
  type ServiceDefinition,
} from '@msa/service-kit';
import { createTestDatabase, signTestToken, testEnv, type TestDatabase } from '@msa/service-kit/testing';
import { service as distributorService } from '@msa/distributor/dist/service';
import { service as memberService } from '@msa/member/dist/service';
import { service as productService } from '@msa/product/dist/service';
import { service as purchaseService } from '@msa/purchase/dist/service';
import { buildDocument, documentPath, errorSchema, routeDocs, routeKey, shopServices } from '../src';

type Document = ReturnType<typeof buildDocument>;
const documented = (doc: Document) =>
  Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    Object.keys(item as object).map((method) => `${method.toUpperCase()} ${path}`),
  );

describe('docs/openapi.json', () => {
  it('is what the generator makes from the services today', async () => {
    const committed: unknown = JSON.parse(await readFile(documentPath, 'utf8'));
    const generated: unknown = JSON.parse(JSON.stringify(buildDocument()));
    try {
      expect(committed).toEqual(generated);
    } catch (err) {
      throw new Error(
        `docs/openapi.json is out of date with the services' routes: run \`npm run openapi\` and commit it.\n\n${(err as Error).message}`,
      );
    }
  });

  it('documents the answers of every public route it lists', () => {
    const declared = shopServices().flatMap(({ routes }) =>
      routes.filter((r) => r.response).map((r) => routeKey(r.method, r.path)),
    );
    const missing = documented(buildDocument()).filter((key) => !routeDocs[key] && !declared.includes(key));
    expect(missing).toEqual([]);
  });
});

// The real services, registered at a real distributor: the document must list exactly what they expose.
describe('the document against the running services', () => {
  const databases: TestDatabase[] = [];
  let distributorUrl: string;
  let memberUrl: string;
  let productUrl: string;
  let purchaseUrl: string;
  let registered: Map<string, RouteSpec[]>;
  const doc = buildDocument();

  // Every start is tracked from its first moment, so a start-up that fails or outlasts the hook's
  // bound is still stopped in afterAll (a half-started service would keep Jest from exiting).
  const starting: Array<Promise<Pick<RunningService, 'url' | 'whenReady' | 'stop'>>> = [];

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async function start(def: ServiceDefinition<any>, env: Record<string, string | undefined>) {
    const started = startService(def, { env: testEnv(env) });
    starting.push(started);
    const svc = await started;
    await svc.whenReady();
    return svc.url;
  }

  async function startWithDatabase(def: Parameters<typeof start>[0], env: Record<string, string> = {}) {
    const db = await createTestDatabase();
    databases.push(db);
    return start(def, { DISTRIBUTOR_URL: distributorUrl, DATABASE_URL: db.url, ...env });
  }

  // Start-up is bounded generously (four services and three databases on a busy CI machine); the
  // assertions themselves are not timed.
  beforeAll(async () => {
    distributorUrl = await start(distributorService, {});
    // One after the other: embedded databases start in this process and would compete for its one thread.
    memberUrl = await startWithDatabase(memberService);
    productUrl = await startWithDatabase(productService, { SEED_CATALOG: 'false' });
    purchaseUrl = await startWithDatabase(purchaseService);

    const res = await fetch(`${distributorUrl}/registry/services`, {
      headers: { 'x-internal-token': await signTestToken() },
    });
    const body = (await res.json()) as { services: Record<string, Array<{ routes: RouteSpec[] }>> };
    registered = new Map(
      Object.entries(body.services).map(([name, instances]) => [name, instances[0]?.routes ?? []]),
    );
  }, 180_000);

  afterAll(async () => {
    const started = await Promise.allSettled(starting);
    // The distributor (started first) stops last.
    for (const result of started.reverse()) if (result.status === 'fulfilled') await result.value.stop();
    await Promise.all(databases.map((db) => db.drop()));
  }, 60_000);

  it('lists every public route the services register, and nothing else', () => {
    expect([...registered.keys()].sort()).toEqual(['member', 'product', 'purchase']);
    const exposed = [...registered.values()]
      .flat()
      .filter((r) => r.public)
      .map((r) => routeKey(r.method, r.path));
    expect(exposed.length).toBeGreaterThan(0);
    expect(documented(doc).sort()).toEqual(exposed.sort());
  });

  it('shows no internal route', () => {
    const internal = [...registered.values()]
      .flat()
      .filter((r) => !r.public)
      .map((r) => routeKey(r.method, r.path));
    expect(internal.length).toBeGreaterThan(0);
    expect(documented(doc).filter((key) => internal.includes(key))).toEqual([]);
    expect(Object.keys(doc.paths ?? {}).filter((p) => p.startsWith('/internal'))).toEqual([]);
  });

  // Called as the gateway calls them (an internal token carrying the member), answers are checked
  // against the documented status codes and, strictly, against the documented bodies.
  async function call(
    base: string,
    method: string,
    path: string,
    route: string,
    opts: {
      as?: { id: string; role: 'customer' | 'admin' };
      body?: unknown;
      headers?: Record<string, string>;
    } = {},
  ) {
    const token = await signTestToken(opts.as ? { sub: opts.as.id, role: opts.as.role } : {});
    const res = await fetch(base + path, {
      method,
      headers: {
        'x-internal-token': token,
        ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...opts.headers,
      },
      ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
    });
    const text = await res.text();
    const body: unknown = text ? JSON.parse(text) : undefined;
    const key = `${method} ${route}`;
    const listed = Object.keys(
      (doc.paths?.[route] as Record<string, { responses: object }>)[method.toLowerCase()]!.responses,
    );
    expect({ key, status: res.status, listed: listed.includes(String(res.status)) }).toEqual({
      key,
      status: res.status,
      listed: true,
    });
    const answer = routeDocs[key]!.success[res.status];
    const schema: z.ZodType | undefined = answer ? answer.schema : errorSchema;
    if (!answer) expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    if (schema) schema.parse(body);
    else expect(body).toBeUndefined();
    return { status: res.status, body: body as never };
  }

  it('answers with the documented statuses and bodies', async () => {
    const email = `reader-${randomUUID().slice(0, 8)}@example.com`;
    const password = 'correct horse battery';
    const registeredMember = await call(memberUrl, 'POST', '/members', '/members', {
      body: { email, password, name: 'Reader' },
    });
    expect(registeredMember.status).toBe(201);
    const member = { id: (registeredMember.body as { id: string }).id, role: 'customer' as const };
    expect((await call(memberUrl, 'POST', '/members', '/members', { body: { email } })).status).toBe(400);
    expect(
      (await call(memberUrl, 'POST', '/members/login', '/members/login', { body: { email, password } }))
        .status,
    ).toBe(200);
    await call(memberUrl, 'GET', '/members/me', '/members/me', { as: member });
    await call(memberUrl, 'GET', '/.well-known/jwks.json', '/.well-known/jwks.json');
    await call(memberUrl, 'PATCH', '/members/me', '/members/me', { as: member, body: { name: 'R. Eader' } });

    const admin = { id: randomUUID(), role: 'admin' as const };
    const created = await call(productUrl, 'POST', '/products', '/products', {
      as: admin,
      body: { name: 'Lamp', category: 'openapi-test', price: 19.99, stock: 3 },
    });
    expect(created.status).toBe(201);
    const productId = (created.body as { id: string }).id;
    await call(productUrl, 'GET', '/products?category=openapi-test&sort=-price', '/products');
    await call(productUrl, 'GET', `/products/${productId}`, '/products/{id}');
    await call(productUrl, 'PATCH', `/products/${productId}`, '/products/{id}', {
      as: admin,
      body: { stock: 5 },
    });
    expect((await call(productUrl, 'GET', `/products/${randomUUID()}`, '/products/{id}')).status).toBe(404);

    const key = randomUUID();
    const buy = () =>
      call(purchaseUrl, 'POST', '/purchases', '/purchases', {
        as: member,
        body: { productId, quantity: 2 },
        headers: { 'idempotency-key': key },
      });
    const bought = await buy();
    expect(bought.status).toBe(201);
    expect((await buy()).status).toBe(200);
    const purchaseId = (bought.body as { id: string }).id;
    await call(purchaseUrl, 'GET', '/purchases', '/purchases', { as: member });
    await call(purchaseUrl, 'GET', `/purchases/${purchaseId}`, '/purchases/{id}', { as: member });
    const cancelled = await call(
      purchaseUrl,
      'POST',
      `/purchases/${purchaseId}/cancel`,
      '/purchases/{id}/cancel',
      {
        as: member,
      },
    );
    expect(cancelled.status).toBe(200);
    expect(
      (
        await call(purchaseUrl, 'POST', '/purchases', '/purchases', {
          as: member,
          // More than its stock (5), within the per-order cap (MAX_QUANTITY_PER_ORDER, 10 by default).
          body: { productId, quantity: 6 },
          headers: { 'idempotency-key': randomUUID() },
        })
      ).status,
    ).toBe(409);

    await call(productUrl, 'DELETE', `/products/${productId}`, '/products/{id}', { as: admin });
    await call(memberUrl, 'DELETE', '/members/me', '/members/me', { as: member });
  });
});
