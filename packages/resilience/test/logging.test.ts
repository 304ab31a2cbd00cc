// The logging service down under load: every request is still served, each service holds its log
// lines (up to LOG_SHIPPING_BUFFER, the oldest dropped and counted beyond it) and delivers them once
// logging is back. Nothing in the request path waits for logging.
import { randomUUID } from 'node:crypto';
import { InternalTokens } from '@msa/service-kit';
import { call, failures, steadyLoad } from './support/api';
import { record } from './support/record';
import { eventually, sleep, startShop, type Shop } from './support/shop';

let shop: Shop;
const BUFFER = 100;

beforeAll(async () => {
  shop = await startShop({
    only: ['gateway', 'product', 'logging'],
    // info: the gateway's access line and product's request line for every traced request.
    env: { LOG_LEVEL: 'info', LOG_SHIPPING_BUFFER: String(BUFFER), RATE_LIMIT_POINTS: '0' },
  });
}, 120_000);

afterAll(async () => {
  await shop?.stop();
}, 60_000);

/** The request ids with `prefix` that logging holds lines of, per service that wrote them. */
async function delivered(prefix: string): Promise<{ gateway: Set<string>; product: Set<string> }> {
  const logging = shop.system.instance('logging').url!;
  const token = await new InternalTokens('resilience-test', shop.system.internalTokenSecret).sign();
  const found = { gateway: new Set<string>(), product: new Set<string>() };
  for (const service of ['gateway', 'product'] as const) {
    const a = await call(logging, 'GET', `/internal/logs?service=${service}&limit=1000&order=desc`, {
      headers: { 'x-internal-token': token },
    });
    if (a.status !== 200) throw new Error(`logging answered ${a.status}: ${JSON.stringify(a.body)}`);
    for (const item of (a.body?.items ?? []) as Array<{ requestId?: string }>) {
      if (item.requestId?.startsWith(prefix)) found[service].add(item.requestId);
    }
  }
  return found;
}

async function droppedAtGateway(): Promise<number> {
  const a = await call(shop.gatewayAdmin, 'GET', '/metrics');
  const m = /^log_shipper_dropped_lines_total(?:\{[^}]*\})? (\d+)/m.exec(String(a.body));
  return m ? Number(m[1]) : 0;
}

function tracedLoad(prefix: string, rate: number, ms: number) {
  return steadyLoad(rate, ms, (i) =>
    call(shop.gateway, 'GET', '/products?limit=1', { headers: { 'x-request-id': `${prefix}${i}` } }),
  );
}

test('logging down: requests are served, lines wait in the bounded buffer and arrive once it is back', async () => {
  // Shipping works to begin with.
  const warm = `res-warm-${randomUUID().slice(0, 8)}-`;
  await tracedLoad(warm, 10, 300);
  expect(
    (
      await eventually(
        () => delivered(warm),
        (d) => d.gateway.size > 0,
        15000,
        250,
      )
    ).gateway.size,
  ).toBeGreaterThan(0);

  // 1. Within the bound: 40 traced requests while logging is down, every line delivered after.
  await shop.system.stopInstance('logging');
  const within = `res-within-${randomUUID().slice(0, 8)}-`;
  const first = await tracedLoad(within, 20, 2000);
  await sleep(500);
  const backAt = Date.now();
  await shop.system.restart('logging');
  const got = await eventually(
    () => delivered(within),
    (d) => d.gateway.size === first.sent && d.product.size === first.sent,
    15000,
    250,
  );
  const recoveryMs = got.gateway.size === first.sent ? Date.now() - backAt : null;

  // 2. Beyond the bound: 150 traced requests (more lines than the 100 a service holds).
  await shop.system.stopInstance('logging');
  const droppedBefore = await droppedAtGateway();
  const beyond = `res-beyond-${randomUUID().slice(0, 8)}-`;
  const second = await tracedLoad(beyond, 50, 3000);
  await sleep(500);
  const droppedDuring = (await droppedAtGateway()) - droppedBefore;
  await shop.system.restart('logging');
  const newest = `${beyond}${second.sent - 1}`;
  const got2 = await eventually(
    () => delivered(beyond),
    (d) => d.gateway.has(newest) && d.product.has(newest),
    15000,
    250,
  );

  const failed = [...failures(first), ...failures(second)];
  record({
    kind: 'fault',
    name: 'logging service stopped, then started again',
    load: `20 req/s × ${(first.durationMs / 1000).toFixed(1)} s, then 50 req/s × ${(second.durationMs / 1000).toFixed(1)} s (traced product reads)`,
    sent: first.sent + second.sent,
    failed: failed.length,
    failedMeans: 'any request with no answer or a 5xx',
    dataLost: first.sent - Math.min(got.gateway.size, got.product.size),
    recoveryMs,
    notes:
      `within the bound (${BUFFER} lines per instance): ${got.gateway.size}/${first.sent} gateway and ` +
      `${got.product.size}/${first.sent} product lines delivered after; beyond it (${second.sent} requests): ` +
      `${got2.gateway.size} gateway lines delivered, the newest kept, ${droppedDuring} oldest dropped and counted ` +
      '(log_shipper_dropped_lines_total); data lost counts lines lost within the bound; ' +
      'recovery = logging started → every buffered line queryable',
  });
  expect(failed.map((a) => [a.status, a.body])).toEqual([]);
  expect([got.gateway.size, got.product.size]).toEqual([first.sent, first.sent]);
  expect(got2.gateway.has(newest)).toBe(true);
  expect(got2.gateway.size).toBeLessThanOrEqual(BUFFER);
  expect(droppedDuring).toBeGreaterThan(0);
});
