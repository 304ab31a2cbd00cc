// The HTTP and container checks of the Compose smoke test (infra/smoke/compose-smoke.sh starts the stack
// and tears it down). Every wait and every load loop is bounded. Exit code 1 on the first failed check.
// Environment: SMOKE_HTTPS_PORT, SMOKE_HTTP_PORT, SMOKE_ENV_FILE, SMOKE_PROJECT (set by the shell script).
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';

const HTTPS_PORT = Number(process.env.SMOKE_HTTPS_PORT);
const HTTP_PORT = Number(process.env.SMOKE_HTTP_PORT);
const ENV_FILE = process.env.SMOKE_ENV_FILE;
const PROJECT = process.env.SMOKE_PROJECT;
const agent = new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false });
const started = Date.now();

const log = (msg) => console.log(`smoke ${((Date.now() - started) / 1000).toFixed(1)}s: ${msg}`);
function check(ok, what, detail) {
  if (!ok) {
    console.error(`smoke: FAILED: ${what}${detail === undefined ? '' : ` — ${JSON.stringify(detail)}`}`);
    process.exit(1);
  }
  log(`ok: ${what}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, timeoutMs = 60_000, everyMs = 500) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn().catch((err) => ({ error: err.message }));
    if (last === true) return log(`ok: ${what}`);
    await sleep(everyMs);
  }
  check(false, what, last);
}

const compose = (...args) =>
  execFileSync('docker-compose', ['-p', PROJECT, '--env-file', ENV_FILE, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
const docker = (...args) =>
  execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const containers = (service) =>
  compose('ps', '-q', ...(service ? [service] : []))
    .split('\n')
    .filter(Boolean);
const inspect = (ids) => JSON.parse(docker('inspect', ...ids));
/** Runs a node one-liner inside one container of a service (node is the only tool the images have). */
const nodeIn = (service, code) => compose('exec', '-T', service, 'node', '-e', code).trim();

/** One HTTPS request to the gateway: { status, headers, body }. */
function request(method, path, { body, token, headers = {}, timeoutMs = 10_000 } = {}) {
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
function readLoad(path, token, workers = 3) {
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

/** Gateway metrics (its plain-HTTP port, read from inside its container): purchase responses by instance. */
function purchaseInstanceMetrics() {
  const text = nodeIn(
    'gateway',
    "fetch('http://127.0.0.1:8080/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))",
  );
  const known = new Set();
  const answered = new Map();
  for (const line of text.split('\n')) {
    let m = /^gateway_upstream_in_flight\{.*service="purchase".*instance="([^"]+)"/.exec(line);
    if (m) known.add(m[1]);
    m = /^gateway_upstream_responses_total\{.*service="purchase".*instance="([^"]+)".*\} (\d+)/.exec(line);
    if (m) answered.set(m[1], (answered.get(m[1]) ?? 0) + Number(m[2]));
  }
  return { known, answered };
}

/** The purchase instances the distributor lists (asked from inside the distributor's container). */
function registeredPurchases() {
  // The registry answers signed internal calls only: sign one with the kit inside the container.
  const out = nodeIn(
    'distributor',
    "const {InternalTokens}=require('/app/packages/service-kit');new InternalTokens('smoke',process.env.INTERNAL_TOKEN_SECRET).sign().then(t=>fetch('http://127.0.0.1:8080/registry/services/purchase',{headers:{'x-internal-token':t}})).then(r=>r.json()).then(b=>process.stdout.write(JSON.stringify(b.instances.map(i=>({id:i.instanceId,address:i.address})))))",
  );
  return JSON.parse(out);
}

async function main() {
  // 1. Every container of the project healthy.
  await until(
    'every container healthy',
    async () => {
      const states = inspect(containers()).map(
        (c) => `${c.Name}:${c.State.Health?.Status ?? c.State.Status}`,
      );
      return states.every((s) => s.endsWith(':healthy')) || states;
    },
    180_000,
    2000,
  );

  // 2. Isolation and exposure.
  const all = inspect(containers());
  const published = all.filter((c) =>
    Object.values(c.NetworkSettings.Ports ?? {}).some((b) => Array.isArray(b) && b.length > 0),
  );
  check(
    published.length === 1 && published[0].Config.Labels['com.docker.compose.service'] === 'gateway',
    'only the gateway publishes ports',
    published.map((c) => c.Name),
  );
  const lookups = nodeIn(
    'gateway',
    "const dns=require('dns').promises;Promise.all(['postgres','redis'].map(h=>dns.lookup(h).then(a=>h+'='+a.address,e=>h+':'+e.code))).then(r=>process.stdout.write(r.join(' ')))",
  );
  check(!lookups.includes('='), 'Postgres and Redis do not resolve from the gateway', lookups);
  const dataIps = all
    .filter((c) => ['postgres', 'redis'].includes(c.Config.Labels['com.docker.compose.service']))
    .flatMap((c) =>
      Object.values(c.NetworkSettings.Networks).map(
        (n) => `${n.IPAddress}:${c.Config.Labels['com.docker.compose.service'] === 'postgres' ? 5432 : 6379}`,
      ),
    );
  const connects = nodeIn(
    'gateway',
    `const net=require('net');Promise.all(${JSON.stringify(dataIps)}.map(a=>new Promise(r=>{const [h,p]=a.split(':');const s=net.connect({host:h,port:+p});const t=setTimeout(()=>{s.destroy();r(a+':timeout')},1500);s.on('connect',()=>{clearTimeout(t);s.destroy();r(a+'=CONNECTED')});s.on('error',e=>{clearTimeout(t);r(a+':'+e.code)})}))).then(r=>process.stdout.write(r.join(' ')))`,
  );
  check(
    dataIps.length >= 2 && !connects.includes('CONNECTED'),
    'Postgres and Redis do not connect from the gateway',
    connects,
  );
  const hostIp = Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal && !i.address.startsWith('172.'))?.address;
  if (hostIp) {
    const answers = await Promise.all(
      [HTTPS_PORT, HTTP_PORT, 5432, 6379, 8080, 8443, 9000, 9200].map(
        (port) =>
          new Promise((resolve) => {
            const s = net.connect({ host: hostIp, port });
            const done = (ok) => {
              s.destroy();
              resolve(ok ? port : null);
            };
            s.setTimeout(1000, () => done(false));
            s.on('connect', () => done(true));
            s.on('error', () => done(false));
          }),
      ),
    );
    const open = answers.filter((p) => p !== null);
    check(
      open.includes(HTTPS_PORT) && open.includes(HTTP_PORT) && open.length === 2,
      `from outside (${hostIp}) only the gateway's ports answer`,
      open,
    );
  }

  // 3. HTTP redirects to HTTPS (the gateway's metrics included: they are for the private network only);
  //    /internal is not reachable through the gateway.
  for (const path of ['/products', '/metrics']) {
    const redirect = await new Promise((resolve, reject) =>
      http
        .get({ host: '127.0.0.1', port: HTTP_PORT, path }, (res) => {
          res.resume();
          resolve({ status: res.statusCode, location: res.headers.location });
        })
        .on('error', reject),
    );
    check(
      redirect.status === 308 && /^https:/.test(redirect.location ?? ''),
      `plain HTTP ${path} answers 308 to HTTPS`,
      redirect,
    );
  }
  for (const path of ['/internal/routes', '/internal/jwks', '/internal/reservations', '/%69nternal/jwks']) {
    const res = await request('GET', path);
    check(res.status === 404, `GET ${path} through the gateway → 404`, res.status);
  }

  // 4. The shop, end to end: admin adds a product, a customer registers, logs in, buys, cancels.
  const env = Object.fromEntries(
    (await import('node:fs'))
      .readFileSync(ENV_FILE, 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  let admin;
  await until('admin logs in', async () => {
    admin = await request('POST', '/members/login', {
      body: { email: env.ADMIN_EMAIL || 'admin@msa.local', password: env.ADMIN_PASSWORD },
    });
    return admin.status === 200 || admin;
  });
  const made = await request('POST', '/products', {
    token: admin.body.token,
    body: { name: `Smoke kettle ${randomUUID().slice(0, 8)}`, category: 'kitchen', price: 19.5, stock: 10 },
  });
  check(made.status === 201, 'admin creates a product', made);
  const email = `smoke-${randomUUID().slice(0, 8)}@example.com`;
  const reg = await request('POST', '/members', {
    body: { email, password: 'smoke-password-1', name: 'Smoke' },
  });
  check(reg.status === 201, 'a customer registers', reg);
  const login = await request('POST', '/members/login', { body: { email, password: 'smoke-password-1' } });
  check(login.status === 200 && typeof login.body.token === 'string', 'the customer logs in', login.status);
  const token = login.body.token;
  const list = await request('GET', '/products?limit=100');
  check(
    list.status === 200 && list.body.items.some((p) => p.id === made.body.id),
    'products are listed',
    list.status,
  );
  const stockOf = async () => (await request('GET', `/products/${made.body.id}`)).body.stock;

  const key = randomUUID();
  const traced = `smoke-${randomUUID()}`;
  const buy1 = await request('POST', '/purchases', {
    token,
    headers: { 'idempotency-key': key, 'x-request-id': traced },
    body: { productId: made.body.id, quantity: 2 },
  });
  check(buy1.status === 201, 'a purchase with an Idempotency-Key → 201', buy1);
  const buy2 = await request('POST', '/purchases', {
    token,
    headers: { 'idempotency-key': key },
    body: { productId: made.body.id, quantity: 2 },
  });
  check(buy2.status === 200 && buy2.body.id === buy1.body.id, 'the same key again → the same purchase', buy2);
  check((await stockOf()) === 8, 'stock went down once (10 → 8)');
  const cancel = await request('POST', `/purchases/${buy1.body.id}/cancel`, { token, body: {} });
  check(cancel.status === 200, 'the purchase is cancelled', cancel);
  check((await stockOf()) === 10, 'stock is back (10)');

  // The purchase's whole path, found by its request id through the logging API (its file sink here:
  // Elasticsearch does not run in the smoke). Lines are shipped in batches, so wait for them.
  await until("the purchase's log lines, by request id, from gateway, purchase and product", async () => {
    const found = await request('GET', `/logs?requestId=${traced}&limit=100`, { token: admin.body.token });
    const services = new Set((found.body?.items ?? []).map((l) => l.service));
    return (
      ['gateway', 'purchase', 'product'].every((s) => services.has(s)) || {
        status: found.status,
        services: [...services],
      }
    );
  });

  // 5. Three purchase instances at the distributor, and reads spread over all three.
  await until(
    'three purchase instances registered',
    async () => registeredPurchases().length === 3 || registeredPurchases(),
  );
  const before = purchaseInstanceMetrics();
  for (let i = 0; i < 30; i++) await request('GET', '/purchases', { token });
  const after = purchaseInstanceMetrics();
  const served = [...after.answered]
    .filter(([id, n]) => n > (before.answered.get(id) ?? 0))
    .map(([id]) => id);
  check(
    served.length === 3,
    'reads spread over the three purchase instances',
    Object.fromEntries(after.answered),
  );

  // 6. Kill one purchase container under a steady read load: no failed read.
  const victim = containers('purchase')[0];
  let load = readLoad('/purchases', token);
  await sleep(1000);
  docker('kill', victim);
  log(`killed purchase container ${victim.slice(0, 12)}`);
  await sleep(8000);
  let stats = await load.stop();
  check(
    stats.failed === 0 && stats.ok > 0,
    `no failed read while a purchase container died (${stats.ok} reads)`,
    stats,
  );

  // 7. Scale to four: the new instance takes traffic.
  const oldIds = new Set(containers('purchase'));
  compose('up', '-d', '--no-recreate', '--scale', 'purchase=4', 'purchase');
  const fresh = containers('purchase')
    .filter((id) => !oldIds.has(id))
    .map((id) => id.slice(0, 12));
  check(fresh.length >= 1, 'docker-compose --scale purchase=4 made a new container', fresh);
  await until(
    'the new purchase instance is registered',
    async () =>
      registeredPurchases().some((i) => fresh.some((h) => i.id.includes(h))) || registeredPurchases(),
    90_000,
    1000,
  );
  await until(
    'the new purchase instance takes traffic',
    async () => {
      for (let i = 0; i < 12; i++) await request('GET', '/purchases', { token });
      const { answered } = purchaseInstanceMetrics();
      return (
        [...answered].some(([id, n]) => n > 0 && fresh.some((h) => id.includes(h))) ||
        Object.fromEntries(answered)
      );
    },
    30_000,
    500,
  );

  // 8. Restart the distributor under load: traffic keeps flowing (the gateway keeps its last routing table).
  load = readLoad('/products?limit=5', undefined);
  await sleep(500);
  compose('restart', 'distributor');
  log('distributor restarted');
  await sleep(3000);
  stats = await load.stop();
  check(
    stats.failed === 0 && stats.ok > 0,
    `no failed read across a distributor restart (${stats.ok} reads)`,
    stats,
  );
  await until(
    'every purchase instance registered again after the distributor restart',
    async () => registeredPurchases().length === 4 || registeredPurchases(),
    60_000,
    1000,
  );
  const buy3 = await request('POST', '/purchases', {
    token,
    headers: { 'idempotency-key': randomUUID() },
    body: { productId: made.body.id, quantity: 1 },
  });
  check(buy3.status === 201, 'a purchase after the distributor restart → 201', buy3);
  // 9. Node is PID 1 and handles SIGTERM: `docker stop` ends a purchase container cleanly (exit 0, not 137).
  const stopping = containers('purchase')[0];
  docker('stop', '-t', '25', stopping);
  const [stopped] = inspect([stopping]);
  check(
    stopped.State.ExitCode === 0,
    'docker stop: the purchase container exits 0 on SIGTERM',
    stopped.State.ExitCode,
  );
  log('all checks passed');
}

main().catch((err) => {
  console.error('smoke: FAILED:', err);
  process.exit(1);
});
