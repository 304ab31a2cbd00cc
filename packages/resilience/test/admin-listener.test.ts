// Issue 14.1: operational endpoints never share a listener with client traffic. Every listener a client can reach
// (plain HTTP — npm start's 8080 —, HTTPS, the redirect-only port Compose publishes as 80) answers /metrics and
// /internal/* with 404 (the redirect port: 308 to HTTPS, which then answers 404), whatever the path's spelling, the
// Host header or forged forwarding headers; the gateway's admin port, on 127.0.0.1, serves them.
import { rawRequest, type RawAnswer } from './support/raw';
import { record } from './support/record';
import { startShop, type Shop } from './support/shop';
import { InternalTokens } from '@msa/service-kit';

let shop: Shop;
let token: string;

beforeAll(async () => {
  shop = await startShop({
    only: ['gateway', 'product'],
    env: { RATE_LIMIT_POINTS: '0', REDIRECT_PORT: '0' },
  });
  token = await new InternalTokens('admin-listener-test', shop.system.internalTokenSecret).sign();
}, 120_000);

afterAll(async () => {
  await shop?.stop();
}, 60_000);

const TARGETS = ['/metrics', '/internal/routes', '/internal/status'];

/** The same path as a client might spell it to slip past a check (each one normalises to the target). */
function spellings(p: string): string[] {
  return [
    p,
    p.toUpperCase(),
    p.replace('/', '/%2F'),
    p.replace('/', '/%252F'),
    p.replace(/\/([a-z])/, (_, c: string) => `/%${c.charCodeAt(0).toString(16)}`),
    `/${p}`,
    p.replace('/', '//'),
    `/.${p}`,
    `/./.${p}`,
    `/products/..${p}`,
    `/products/%2e%2e${p}`,
    `/products/..%2f..${p}`,
    `${p}/`,
    `${p}?format=json`,
    `${p}#x`,
    `/\\${p.slice(1)}`,
  ];
}

/** Who the request claims to be from, and for which host: none of it may open the door. */
function headerSets(adminHost: string): Array<Record<string, string>> {
  return [
    {},
    { 'X-Forwarded-For': '127.0.0.1' },
    { 'X-Forwarded-For': '127.0.0.1', 'X-Real-IP': '127.0.0.1', Forwarded: 'for=127.0.0.1;proto=http' },
    { 'X-Forwarded-Host': adminHost, 'X-Forwarded-Port': adminHost.split(':')[1]! },
    { Host: 'localhost' },
    { Host: 'localhost.' },
    { Host: '127.0.0.1' },
    { Host: adminHost },
    { Host: 'LOCALHOST.:8080' },
  ];
}

function request(method: string, target: string, headers: Record<string, string>, token?: string): string {
  const all: Record<string, string> = { Host: 'shop.example', ...headers, Connection: 'close' };
  if (token !== undefined) all['x-internal-token'] = token;
  return `${method} ${target} HTTP/1.1\r\n${Object.entries(all)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n`;
}

/** Anything that looks like metrics or an internal answer. */
const leaks = (a: RawAnswer) => /_total|# HELP|"routes"|"services"|"events"/.test(a.body);

describe('the gateway admin port', () => {
  test('client-facing listeners answer /metrics and /internal/* with 404 whatever the spelling and headers', async () => {
    const admin = new URL(shop.system.gatewayAdminUrl!);
    const ready = shop.system.instance('gateway').ready as { redirectUrl?: string } | undefined;
    expect(ready?.redirectUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const listeners = [
      { name: 'plain HTTP', url: shop.gateway, answers: [404] },
      { name: 'HTTPS', url: shop.system.gatewayHttpsUrl!, answers: [404] },
      // It redirects whatever it is asked; a target it cannot turn into an HTTPS URL gets 400.
      { name: 'redirect-only HTTP', url: ready!.redirectUrl!, answers: [308, 400] },
    ];
    const paths = TARGETS.flatMap(spellings);
    // Absolute-form targets naming the admin listener: a proxy-style request must not be forwarded there.
    const absolute = TARGETS.map((p) => `http://${admin.host}${p}`);
    const problems: string[] = [];
    const seen = new Map<string, number>();
    let cases = 0;
    for (const listener of listeners) {
      for (const target of [...paths, ...absolute]) {
        for (const headers of headerSets(admin.host)) {
          // With and without a valid internal token: a token opens internal routes on the admin port only.
          for (const withToken of [false, true]) {
            cases++;
            const answer = await rawRequest(
              listener.url,
              request('GET', target, headers, withToken ? token : undefined),
              500,
            );
            const key = `${listener.name} ${answer.status}`;
            seen.set(key, (seen.get(key) ?? 0) + 1);
            const ok =
              listener.answers.includes(answer.status) &&
              !leaks(answer) &&
              (answer.status !== 308 || /^location: https:\/\//im.test(answer.head));
            if (!ok) {
              problems.push(
                `${listener.name} GET ${target} ${JSON.stringify(headers)}${withToken ? ' +token' : ''} → ` +
                  `${answer.status} ${answer.body.slice(0, 60)}`,
              );
            }
          }
        }
      }
    }
    record({
      kind: 'security',
      name: 'metrics and internal routes on client-facing listeners (plain HTTP, HTTPS, redirect port; path, Host and X-Forwarded-For tricks, with and without an internal token)',
      cases,
      violations: problems.length,
      notes: `answers: ${[...seen].map(([k, n]) => `${k} ×${n}`).join(', ')}; served on the admin port (127.0.0.1) only`,
    });
    expect(problems.slice(0, 20)).toEqual([]);
  }, 120_000);

  test('the admin port serves metrics and, with an internal token, the internal routes; it listens on 127.0.0.1', async () => {
    const adminUrl = shop.system.gatewayAdminUrl!;
    expect(new URL(adminUrl).hostname).toBe('127.0.0.1');
    const metrics = await fetch(`${adminUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^gateway_requests_total|# HELP gateway_/m);

    expect((await fetch(`${adminUrl}/internal/routes`)).status).toBe(401);
    const table = await fetch(`${adminUrl}/internal/routes`, { headers: { 'x-internal-token': token } });
    expect(table.status).toBe(200);
    const routes = ((await table.json()) as { routes: Array<{ path: string }> }).routes;
    expect(routes.map((r) => r.path)).toContain('/products');
    // Health answers on both sides: load balancers probe the client-facing port, the orchestrator may probe either.
    expect((await fetch(`${shop.gateway}/health/ready`)).status).toBe(200);
    expect((await fetch(`${adminUrl}/health/ready`)).status).toBe(200);
    // Traffic is not served on the admin port: it is not a second way in.
    expect((await fetch(`${adminUrl}/products?limit=1`)).status).toBe(401);
  });

  test('the registry knows the gateway by its admin address and every instance by its metrics address', async () => {
    const res = await fetch(`${shop.system.distributorUrl}/registry/services`, {
      headers: { 'x-internal-token': token },
    });
    expect(res.status).toBe(200);
    const { services } = (await res.json()) as {
      services: Record<string, Array<{ address: string; metricsUrl?: string }>>;
    };
    expect(services.gateway).toEqual([
      expect.objectContaining({
        address: shop.system.gatewayAdminUrl,
        metricsUrl: `${shop.system.gatewayAdminUrl}/metrics`,
      }),
    ]);
    for (const product of services.product!) {
      expect(product.metricsUrl).toBe(`${product.address}/metrics`);
      expect((await fetch(product.metricsUrl!)).status).toBe(200);
    }
  });
});
