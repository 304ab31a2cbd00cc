// What the Compose and Swarm smoke checks share: HTTPS requests to the gateway's published port, bounded
// waits and read loads, the gateway's and the registry's view of the instances, and the shop flow.
// A `target` says how to reach the containers of one deployment (Compose project or Swarm stack):
//   { containers(service?) → ids, exec(service, nodeCode) → stdout }.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import https from 'node:https';

export const HTTPS_PORT = Number(process.env.SMOKE_HTTPS_PORT);
export const HTTP_PORT = Number(process.env.SMOKE_HTTP_PORT);
const agent = new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false });
const started = Date.now();

export const log = (msg) => console.log(`smoke ${((Date.now() - started) / 1000).toFixed(1)}s: ${msg}`);
export function check(ok, what, detail) {
  if (!ok) {
    console.error(`smoke: FAILED: ${what}${detail === undefined ? '' : ` — ${JSON.stringify(detail)}`}`);
    process.exit(1);
  }
  log(`ok: ${what}`);
}
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Polls fn until it returns true (then logs and returns the milliseconds waited) or the time is up. */
export async function until(what, fn, timeoutMs = 60_000, everyMs = 500) {
  const from = Date.now();
  let last;
  while (Date.now() - from < timeoutMs) {
    last = await fn().catch((err) => ({ error: err.message }));
    if (last === true) {
      log(`ok: ${what} (${((Date.now() - from) / 1000).toFixed(1)} s)`);
      return Date.now() - from;
    }
    await sleep(everyMs);
  }
  return check(false, what, last);
}

export const docker = (...args) =>
  execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
export const inspect = (ids) => (ids.length ? JSON.parse(docker('inspect', ...ids)) : []);

/** One HTTPS request to the gateway: { status, headers, body }. */
export function request(method, path, { body, token, headers = {}, timeoutMs = 10_000 } = {}) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: HTTPS_PORT,
        method,
        path,
        agent,
        timeout: timeoutMs,
        headers: {
          ...(payload ? { 'content-type': 'application/json' } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let parsed = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode, headers: res.headers, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Sequential reads from `workers` loops until stop(); counts answers that were not 200. */
export function readLoad(path, token, workers = 3) {
  let running = true;
  const stats = { ok: 0, failed: 0, failures: [] };
  const loops = Array.from({ length: workers }, async () => {
    for (let i = 0; running && i < 100_000; i++) {
      const res = await request('GET', path, { token }).catch((err) => ({ status: 0, body: err.message }));
      if (res.status === 200) stats.ok++;
      else {
        stats.failed++;
        if (stats.failures.length < 5) stats.failures.push({ status: res.status, body: res.body });
      }
      await sleep(20);
    }
  });
  return {
    stats,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return stats;
    },
  };
}

/** Gateway metrics (its admin port, private, read inside its container): responses by instance. */
export function instanceMetrics(target, service) {
  const text = target.exec(
    'gateway',
    "fetch('http://127.0.0.1:9080/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))",
  );
  const answered = new Map();
  for (const line of text.split('\n')) {
    const m = new RegExp(
      `^gateway_upstream_responses_total\\{.*service="${service}".*instance="([^"]+)".*\\} (\\d+)`,
    ).exec(line);
    if (m) answered.set(m[1], (answered.get(m[1]) ?? 0) + Number(m[2]));
  }
  return answered;
}

/** The instances of a service the distributor lists (asked inside its container with a signed call). */
export function registered(target, service) {
  const out = target.exec(
    'distributor',
    `const {InternalTokens,loadConfig}=require('/app/packages/service-kit');new InternalTokens('smoke',loadConfig(undefined).INTERNAL_TOKEN_SECRET).sign().then(t=>fetch('http://127.0.0.1:8080/registry/services/${service}',{headers:{'x-internal-token':t}})).then(r=>r.json()).then(b=>process.stdout.write(JSON.stringify(b.instances.map(i=>({id:i.instanceId,address:i.address})))))`,
  );
  return JSON.parse(out);
}

/** Reads spread: after `count` reads of `path`, the instances (ids) whose answered count grew. */
export async function servedBy(target, service, path, token, count = 30) {
  const before = instanceMetrics(target, service);
  for (let i = 0; i < count; i++) await request('GET', path, { token });
  const after = instanceMetrics(target, service);
  return [...after].filter(([id, n]) => n > (before.get(id) ?? 0)).map(([id]) => id);
}

/** The admin password, as an operator reads it: member's own secret file. */
export const adminPassword = (target) =>
  target.exec(
    'member',
    "process.stdout.write(require('fs').readFileSync('/run/secrets/admin-password','utf8'))",
  );

/**
 * The shop as a customer uses it, on the demo catalogue (no admin step): list, register, log in, buy with an
 * Idempotency-Key (the same key again → the same purchase), stock down once, cancel, stock back, and one
 * purchase kept. Returns what a later phase checks again: { email, password, productId, kept, stock }.
 */
export async function shopFlow(label) {
  const list = await request('GET', '/products?limit=100');
  check(
    list.status === 200 &&
      list.body.items.length >= 10 &&
      list.body.items.some((p) => p.name === 'Building Microservices'),
    `${label}: the demo catalogue is listed (${list.body?.items?.length} products)`,
    list.status,
  );
  // The last one in stock: the README's walk-through buys the first listed, and this flow's stock figures
  // must not depend on whether it ran.
  const product = list.body.items.filter((p) => p.stock >= 5).at(-1);
  check(product !== undefined, `${label}: a demo product in stock`);
  const stockOf = async () => (await request('GET', `/products/${product.id}`)).body.stock;
  const stock = await stockOf();

  const email = `smoke-${randomUUID().slice(0, 8)}@example.com`;
  const password = 'smoke-password-1';
  const reg = await request('POST', '/members', { body: { email, password, name: 'Smoke' } });
  check(reg.status === 201, `${label}: a customer registers`, reg);
  const login = await request('POST', '/members/login', { body: { email, password } });
  check(
    login.status === 200 && typeof login.body.token === 'string',
    `${label}: the customer logs in`,
    login.status,
  );
  const token = login.body.token;

  const key = randomUUID();
  const requestId = `smoke-${randomUUID()}`;
  const buy = (headers, quantity) =>
    request('POST', '/purchases', { token, headers, body: { productId: product.id, quantity } });
  const buy1 = await buy({ 'idempotency-key': key, 'x-request-id': requestId }, 2);
  check(buy1.status === 201, `${label}: a purchase with an Idempotency-Key → 201`, buy1);
  const buy2 = await buy({ 'idempotency-key': key }, 2);
  check(
    buy2.status === 200 && buy2.body.id === buy1.body.id,
    `${label}: the same key again → the same purchase`,
    buy2,
  );
  check((await stockOf()) === stock - 2, `${label}: stock went down once (${stock} → ${stock - 2})`);
  const cancel = await request('POST', `/purchases/${buy1.body.id}/cancel`, { token, body: {} });
  check(cancel.status === 200, `${label}: the purchase is cancelled`, cancel);
  check((await stockOf()) === stock, `${label}: stock is back (${stock})`);
  const kept = await buy({ 'idempotency-key': randomUUID() }, 1);
  check(kept.status === 201, `${label}: another purchase → 201`, kept);
  return { email, password, token, productId: product.id, kept: kept.body.id, stock: stock - 1, requestId };
}

/** The purchase's whole path, by its request id, through the logging API (admin only). */
export async function logsByRequestId(label, requestId, adminToken) {
  await until(
    `${label}: the purchase's log lines by request id, from gateway, purchase and product`,
    async () => {
      const found = await request('GET', `/logs?requestId=${requestId}&limit=100`, { token: adminToken });
      const services = new Set((found.body?.items ?? []).map((l) => l.service));
      return (
        ['gateway', 'purchase', 'product'].every((s) => services.has(s)) || {
          status: found.status,
          services: [...services],
        }
      );
    },
  );
}

export async function adminLogin(label, password) {
  let admin;
  await until(`${label}: the admin logs in with the password from member's secret file`, async () => {
    admin = await request('POST', '/members/login', { body: { email: 'admin@msa.local', password } });
    return admin.status === 200 || admin;
  });
  return admin.body.token;
}
