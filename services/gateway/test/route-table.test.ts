import { buildRouteTable } from '../src/proxy/route-table';
import { isInternalPath, originForm } from '../src/proxy/internal-path';
import type { InstanceRecord, RouteSpec } from '../src/proxy/registry-view';
import { UpstreamPool } from '../src/proxy/upstreams';
import { route } from './support';

function instance(service: string, id: string, routes: RouteSpec[], registeredAt = '2025-01-01T00:00:00Z') {
  const rec: InstanceRecord = {
    service,
    instanceId: id,
    address: `http://127.0.0.1:${10000 + Number(id.replace(/\D/g, '') || 0)}`,
    version: '1',
    routes,
    registeredAt,
  };
  return rec;
}

function snapshot(...records: InstanceRecord[]): Map<string, InstanceRecord[]> {
  const m = new Map<string, InstanceRecord[]>();
  for (const r of records) m.set(r.service, [...(m.get(r.service) ?? []), r]);
  return m;
}

function build(services: Map<string, InstanceRecord[]>, remembered = new Map<string, RouteSpec[]>()) {
  const pool = new UpstreamPool();
  pool.sync(services);
  const result = buildRouteTable(services, pool, remembered, () => undefined);
  return { ...result, pool };
}

describe('routing table built from a registry snapshot', () => {
  it('when services register public routes, then each path matches its service with the route settings', () => {
    const { table, pool } = build(
      snapshot(
        instance('product', 'p1', [
          route('GET', '/products'),
          route('GET', '/products/:id', { timeoutMs: 900 }),
        ]),
        instance('purchase', 'u1', [route('POST', '/purchases', { auth: 'user' })]),
      ),
    );
    expect(table.match('GET', '/products/42')).toMatchObject({
      service: 'product',
      path: '/products/:id',
      timeoutMs: 900,
    });
    expect(table.match('GET', '/products?page=2')?.path).toBe('/products');
    expect(table.match('POST', '/purchases')).toMatchObject({
      service: 'purchase',
      auth: 'user',
      timeoutMs: 5000,
    });
    expect(table.match('DELETE', '/purchases')).toBeNull();
    expect(table.match('GET', '/nothing')).toBeNull();
    pool.close();
  });

  it('when a route is not public, then it is not in the table at all', () => {
    const { table, pool } = build(
      snapshot(
        instance('product', 'p1', [
          route('GET', '/products'),
          { method: 'POST', path: '/reservations', public: false, auth: 'none' },
        ]),
      ),
    );
    expect(table.match('POST', '/reservations')).toBeNull();
    expect(table.entries.map((e) => e.path)).toEqual(['/products']);
    pool.close();
  });

  it('when a GET route is registered, then HEAD matches it too, as Express does', () => {
    const { table, pool } = build(snapshot(instance('product', 'p1', [route('GET', '/products')])));
    expect(table.match('HEAD', '/products')?.service).toBe('product');
    pool.close();
  });

  it('when paths differ only in case or a trailing slash, then they match as Express would', () => {
    const { table, pool } = build(snapshot(instance('product', 'p1', [route('GET', '/products/:id')])));
    expect(table.match('GET', '/Products/AbC/')?.path).toBe('/products/:id');
    pool.close();
  });

  it('when instances of one service disagree, then the route is served by those that registered it, strictest auth', () => {
    const { table, pool } = build(
      snapshot(
        instance('product', 'p1', [route('GET', '/products'), route('GET', '/beta', { auth: 'none' })]),
        instance('product', 'p2', [route('GET', '/products'), route('GET', '/beta', { auth: 'admin' })]),
        instance('product', 'p3', [route('GET', '/products')]),
      ),
    );
    expect(table.match('GET', '/products')!.upstreams.map((u) => u.instanceId)).toEqual(['p1', 'p2', 'p3']);
    const beta = table.match('GET', '/beta')!;
    expect(beta.upstreams.map((u) => u.instanceId)).toEqual(['p1', 'p2']);
    expect(beta.auth).toBe('admin');
    pool.close();
  });

  it('when two services claim one route, then the longer-registered service keeps it and the claim is reported', () => {
    const older = instance('product', 'p1', [route('GET', '/items/:id')], '2025-01-01T00:00:00Z');
    const newer = instance(
      'intruder',
      'i1',
      [route('GET', '/items/:itemId'), route('GET', '/mine')],
      '2025-01-02T00:00:00Z',
    );
    for (const order of [snapshot(older, newer), snapshot(newer, older)]) {
      const { table, conflicts, pool } = build(order);
      expect(table.match('GET', '/items/1')?.service).toBe('product');
      expect(table.match('GET', '/mine')?.service).toBe('intruder');
      expect(conflicts).toEqual([
        { method: 'GET', path: '/items/:itemId', kept: 'product', ignored: 'intruder' },
      ]);
      pool.close();
    }
  });

  it('when a service loses its last instance, then its routes stay with no instance (503, not 404)', () => {
    const remembered = new Map<string, RouteSpec[]>();
    const first = build(snapshot(instance('purchase', 'u1', [route('GET', '/purchases')])), remembered);
    first.pool.close();
    const { table, pool } = build(new Map([['purchase', []]]), remembered);
    const entry = table.match('GET', '/purchases');
    expect(entry?.service).toBe('purchase');
    expect(entry?.upstreams).toEqual([]);
    pool.close();
  });

  it('when a registration carries a route the router cannot take, then the rest of the table still builds', () => {
    const { table, conflicts, pool } = build(
      snapshot(instance('product', 'p1', [route('GET', '/products'), route('GET', 'no-leading-slash')])),
    );
    expect(table.match('GET', '/products')?.service).toBe('product');
    expect(conflicts).toHaveLength(1);
    pool.close();
  });
});

describe('/internal paths', () => {
  it.each([
    '/internal',
    '/internal/jwks',
    '/INTERNAL/jwks',
    '/Internal/x?y=1',
    '/%69nternal/x',
    '/%2569nternal/x',
    '//internal/x',
    '/a/../internal/x',
    '/./internal',
    '/products/..%2f..%2finternal/x',
    '/\\internal',
    '/metrics',
    '/METRICS',
    '/metrics/',
    '/metrics?x=1',
    '//metrics',
    '/./metrics',
    '/%6detrics',
    '/%252Fmetrics',
    '/products/..%2fmetrics',
  ])('when the path is %s, then it counts as internal', (path) => {
    expect(isInternalPath(path)).toBe(true);
  });

  it.each([
    '/products',
    '/products/internal',
    '/intern',
    '/a/internal/../b',
    '/products?next=/../internal',
    '/products/metrics',
    '/metricsx',
  ])('when the path is %s, then it is not internal', (path) => {
    expect(isInternalPath(path)).toBe(false);
  });

  it('when the target is in absolute form, then its path is what gets checked', () => {
    expect(originForm('http://evil.example/internal/x?q')).toBe('/internal/x?q');
    expect(originForm('http://host')).toBe('/');
    expect(originForm('*')).toBeNull();
  });
});
