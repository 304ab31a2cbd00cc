// The Compose smoke's checks (infra/smoke/compose-smoke.sh starts and stops the stack around them).
//   node compose-checks.mjs first   — the stack the README's command started: health, exposure, isolation,
//                                    the shop, an attacker from outside (outside-checks.mjs), logs, replicas,
//                                    failures; saves what `again` checks
//   node compose-checks.mjs again   — after `down` and the same command: the same data and secrets
//   node compose-checks.mjs leaks   — no secret in any container's `docker inspect` or in the layers the
//                                    Dockerfile adds to the images
// Environment: SMOKE_HTTPS_PORT, SMOKE_HTTP_PORT, SMOKE_STATE (a JSON file between the phases), and
// COMPOSE_PROJECT_NAME / COMPOSE_FILE as the shell script set them. Exit code 1 on the first failed check.
import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as smoke from './lib.mjs';
import { outside } from './outside-checks.mjs';

const { check, log, request, sleep, until, docker, inspect, HTTPS_PORT, HTTP_PORT } = smoke;
const STATE = process.env.SMOKE_STATE;
const BASE_IMAGE = 'node:24-bookworm-slim';
const PROJECT = process.env.COMPOSE_PROJECT_NAME;

const compose = (...args) =>
  execFileSync('docker-compose', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
// Containers by the labels Compose puts on them (the docker CLI answers in a fraction of the time the
// Python docker-compose 1.29 takes to start); exited ones too when asked (the secrets one-shot).
const ps = (service, all = false) =>
  docker(
    'ps',
    '-q',
    ...(all ? ['-a'] : []),
    '--filter',
    `label=com.docker.compose.project=${PROJECT}`,
    ...(service ? ['--filter', `label=com.docker.compose.service=${service}`] : []),
  )
    .split('\n')
    .filter(Boolean);
const target = {
  containers: (service) => ps(service),
  /** Runs a node one-liner inside one container of a service (node is the only tool the images have). */
  exec: (service, code) => {
    const [id] = ps(service);
    if (!id) throw new Error(`no running container of ${service}`);
    return docker('exec', id, 'node', '-e', code).trim();
  },
};
const serviceOf = (c) => c.Config.Labels['com.docker.compose.service'];

/** Waits for every container to be healthy; returns the milliseconds since the `up` (SMOKE_UP_AT). */
async function healthy() {
  await until(
    'every container healthy (the one-shot exited 0)',
    async () => {
      const states = inspect(ps(undefined, true)).map((c) =>
        serviceOf(c) === 'secrets'
          ? `${c.Name}:${c.State.Status === 'exited' && c.State.ExitCode === 0 ? 'done' : c.State.Status}`
          : `${c.Name}:${c.State.Health?.Status ?? c.State.Status}`,
      );
      return states.every((s) => s.endsWith(':healthy') || s.endsWith(':done')) || states;
    },
    180_000,
    1000,
  );
  return Date.now() - Number(process.env.SMOKE_UP_AT);
}

/** Every secret value of the project, read from its volumes (as root can; never printed). */
export function secretValues() {
  const volumes = docker('volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${PROJECT}`)
    .split('\n')
    .filter((v) => v.endsWith('-secrets'));
  const mounts = volumes.flatMap((v) => ['-v', `${v}:/s/${v}:ro`]);
  const out = docker(
    'run',
    '--rm',
    '--network',
    'none',
    ...mounts,
    `msa/distributor:${process.env.IMAGE_TAG || 'dev'}`,
    'node',
    '-e',
    "const fs=require('fs');const r={};for(const v of fs.readdirSync('/s'))for(const f of fs.readdirSync('/s/'+v))r[v+'/'+f]=fs.readFileSync('/s/'+v+'/'+f,'utf8');process.stdout.write(JSON.stringify(r))",
  );
  return JSON.parse(out);
}

async function first() {
  const waited = await healthy();
  const state = { timeToHealthyMs: waited };

  // Isolation and exposure.
  const all = inspect(target.containers());
  const published = all.filter((c) =>
    Object.values(c.NetworkSettings.Ports ?? {}).some((b) => Array.isArray(b) && b.length > 0),
  );
  check(
    published.length === 1 && serviceOf(published[0]) === 'gateway',
    'only the gateway publishes ports',
    published.map((c) => c.Name),
  );
  const lookups = target.exec(
    'gateway',
    "const dns=require('dns').promises;Promise.all(['postgres','redis'].map(h=>dns.lookup(h).then(a=>h+'='+a.address,e=>h+':'+e.code))).then(r=>process.stdout.write(r.join(' ')))",
  );
  check(!lookups.includes('='), 'Postgres and Redis do not resolve from the gateway', lookups);
  const dataIps = all
    .filter((c) => ['postgres', 'redis'].includes(serviceOf(c)))
    .flatMap((c) =>
      Object.values(c.NetworkSettings.Networks).map(
        (n) => `${n.IPAddress}:${serviceOf(c) === 'postgres' ? 5432 : 6379}`,
      ),
    );
  const connects = target.exec(
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
      [HTTPS_PORT, HTTP_PORT, 5432, 6379, 8080, 8443, 9000, 9080, 9200].map(
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

  // HTTP redirects to HTTPS (the gateway's metrics included); /internal is not reachable through the gateway.
  for (const p of ['/products', '/metrics']) {
    const redirect = await new Promise((resolve, reject) =>
      http
        .get({ host: '127.0.0.1', port: HTTP_PORT, path: p }, (res) => {
          res.resume();
          resolve({ status: res.statusCode, location: res.headers.location });
        })
        .on('error', reject),
    );
    check(
      redirect.status === 308 && /^https:/.test(redirect.location ?? ''),
      `plain HTTP ${p} answers 308 to HTTPS`,
      redirect,
    );
  }
  for (const p of ['/internal/routes', '/internal/jwks', '/internal/reservations', '/%69nternal/jwks']) {
    const res = await request('GET', p);
    check(
      res.status === 404 && /^application\/problem\+json/.test(res.headers['content-type'] ?? ''),
      `GET ${p} through the gateway → 404 problem details`,
      { status: res.status, type: res.headers['content-type'] },
    );
  }
  // The API reference and its document ship in the gateway's image (docs/openapi.json at /app/docs).
  const reference = await request('GET', '/docs');
  const apiDocument = await request('GET', '/docs/openapi.json');
  check(
    reference.status === 200 && apiDocument.status === 200 && apiDocument.body?.openapi?.startsWith('3.'),
    'GET /docs and /docs/openapi.json → 200 (the API reference is served)',
    { page: reference.status, document: apiDocument.status },
  );

  // The shop on the demo catalogue, no admin step; then the admin (password from member's secret file)
  // follows the purchase through the logs.
  const shop = await smoke.shopFlow('compose');
  Object.assign(state, shop);
  const adminToken = await smoke.adminLogin('compose', smoke.adminPassword(target));
  await smoke.logsByRequestId('compose', shop.requestId, adminToken);
  // An attacker from outside, through the published HTTPS port only (docs/security.md).
  await outside(shop);
  const token = shop.token;

  // Three purchase instances at the distributor, and reads spread over all three.
  await until(
    'three purchase instances registered',
    async () => smoke.registered(target, 'purchase').length === 3 || smoke.registered(target, 'purchase'),
  );
  const served = await smoke.servedBy(target, 'purchase', '/purchases', token);
  check(served.length === 3, 'reads spread over the three purchase instances', served);

  // Kill one purchase container under a steady read load: no failed read.
  const victim = target.containers('purchase')[0];
  let load = smoke.readLoad('/purchases', token);
  await sleep(1000);
  await promisify(execFile)('docker', ['kill', victim]);
  log(`killed purchase container ${victim.slice(0, 12)}`);
  await sleep(8000);
  let stats = await load.stop();
  check(
    stats.failed === 0 && stats.ok > 0,
    `no failed read while a purchase container died (${stats.ok} reads)`,
    stats,
  );

  // Scale to four: the new instance takes traffic.
  const oldIds = new Set(target.containers('purchase'));
  compose('up', '-d', '--no-recreate', '--scale', 'purchase=4', 'purchase');
  const fresh = target
    .containers('purchase')
    .filter((id) => !oldIds.has(id))
    .map((id) => id.slice(0, 12));
  check(fresh.length >= 1, 'docker-compose --scale purchase=4 made a new container', fresh);
  await until(
    'the new purchase instance is registered',
    async () =>
      smoke.registered(target, 'purchase').some((i) => fresh.some((h) => i.id.includes(h))) ||
      smoke.registered(target, 'purchase'),
    90_000,
    1000,
  );
  await until(
    'the new purchase instance takes traffic',
    async () => {
      const served = await smoke.servedBy(target, 'purchase', '/purchases', token, 12);
      return served.some((id) => fresh.some((h) => id.includes(h))) || served;
    },
    30_000,
    500,
  );

  // Restart the distributor under load: traffic keeps flowing (the gateway keeps its last routing table).
  load = smoke.readLoad('/products?limit=5', undefined);
  await sleep(500);
  // Asynchronously: a synchronous call would stop this process's read loops for the whole restart (and
  // their sockets' timeouts would then fire on answers waiting unread).
  await promisify(execFile)('docker-compose', ['restart', 'distributor']);
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
    async () => smoke.registered(target, 'purchase').length === 4 || smoke.registered(target, 'purchase'),
    60_000,
    1000,
  );
  const buy3 = await request('POST', '/purchases', {
    token,
    headers: { 'idempotency-key': randomUUID() },
    body: { productId: shop.productId, quantity: 1 },
  });
  check(buy3.status === 201, 'a purchase after the distributor restart → 201', buy3);
  state.stock -= 1;
  state.purchases = 3; // cancelled, kept, and this one

  // Node is PID 1 and handles SIGTERM: `docker stop` ends a purchase container cleanly (exit 0, not 137).
  const stopping = target.containers('purchase')[0];
  docker('stop', '-t', '25', stopping);
  const [stopped] = inspect([stopping]);
  check(
    stopped.State.ExitCode === 0,
    'docker stop: the purchase container exits 0 on SIGTERM',
    stopped.State.ExitCode,
  );

  state.secrets = secretValues();
  check(
    Object.keys(state.secrets).length >= 20,
    `the secrets one-shot wrote ${Object.keys(state.secrets).length} files`,
  );
  writeFileSync(STATE, JSON.stringify(state));
}

async function again() {
  const state = JSON.parse(readFileSync(STATE, 'utf8'));
  state.timeToHealthyAgainMs = await healthy();
  const secrets = secretValues();
  check(
    JSON.stringify(secrets) === JSON.stringify(state.secrets),
    `the same ${Object.keys(secrets).length} secret files after down and up`,
    Object.keys(secrets).filter((k) => secrets[k] !== state.secrets[k]),
  );
  const login = await request('POST', '/members/login', {
    body: { email: state.email, password: state.password },
  });
  check(login.status === 200, 'the customer registered before `down` logs in', login.status);
  const mine = await request('GET', '/purchases', { token: login.body.token });
  check(
    mine.status === 200 &&
      mine.body.items.length === state.purchases &&
      mine.body.items.some((p) => p.id === state.kept),
    `the customer's ${state.purchases} purchases are there`,
    mine.body,
  );
  const product = await request('GET', `/products/${state.productId}`);
  check(product.body.stock === state.stock, `the product's stock is as left (${state.stock})`, product.body);
  const list = await request('GET', '/products?limit=100');
  const names = list.body.items.map((p) => p.name);
  check(new Set(names).size === names.length, 'the demo catalogue was not loaded twice', names.length);
  await smoke.adminLogin('again', smoke.adminPassword(target));
  writeFileSync(STATE, JSON.stringify(state));
}

/** No secret value in any container's `docker inspect`, nor in any layer or the history of the images. */
async function leaks() {
  const state = JSON.parse(readFileSync(STATE, 'utf8'));
  const values = [...new Set(Object.values(state.secrets).map((v) => v.replace(/^requirepass /, '').trim()))];
  check(values.length >= 7, `${values.length} distinct secret values to look for`);
  const found = (text) => values.filter((v) => text.includes(v)).length;

  const containers = docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${PROJECT}`)
    .split('\n')
    .filter(Boolean);
  const inspected = docker('inspect', ...containers);
  check(
    found(inspected) === 0,
    `no secret in \`docker inspect\` of the ${containers.length} containers (environment, command, labels)`,
  );

  const images = [...new Set(inspect(containers).map((c) => c.Config.Image))].filter((i) =>
    i.startsWith('msa/'),
  );
  const history = images
    .map((i) => docker('history', '--no-trunc', '--format', '{{.CreatedBy}}', i))
    .join('\n');
  check(found(history) === 0, `no secret in the build history of ${images.join(', ')}`);
  // Every layer of every image, unpacked: no secret value in any file, and no env file or secrets folder.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-layers-'));
  try {
    execFileSync('sh', ['-c', `docker save ${images.join(' ')} | tar -x -C "${dir}"`]);
    // The layers the Dockerfile adds: each image's own, past those of its base (node:24-bookworm-slim, the
    // public image every stage starts from), in the order manifest.json lists them.
    const base = inspect([BASE_IMAGE])[0].RootFS.Layers.length;
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    const layers = [...new Set(manifest.flatMap((m) => m.Layers.slice(base)))];
    let bytes = 0;
    const suspicious = [];
    for (const layer of layers) {
      const file = path.join(dir, layer);
      let names = [];
      try {
        names = execFileSync('tar', ['-tf', file], {
          encoding: 'utf8',
          maxBuffer: 256 << 20,
          stdio: ['ignore', 'pipe', 'ignore'],
        }).split('\n');
      } catch {
        /* an image config or manifest blob (OCI layout), not a layer: its content is still scanned below */
      }
      suspicious.push(
        ...names.filter(
          (n) =>
            /(^|\/)\.env(\.[^/]*)?$|(^|\/)(secrets\.env|dev-secrets\.sh)$|^run\/secrets\//.test(n) &&
            !n.endsWith('.env.example'),
        ),
      );
      const content = readFileSync(file);
      bytes += content.length;
      for (const v of values) if (content.includes(v)) suspicious.push(`a secret value in ${layer}`);
    }
    check(
      layers.length > 0 && suspicious.length === 0,
      `no secret and no env file in the ${layers.length} layers the Dockerfile adds (${(bytes / 2 ** 20).toFixed(0)} MiB scanned)`,
      suspicious.slice(0, 10),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const phases = { first, again, leaks };
const phase = phases[process.argv[2]];
if (!phase) {
  console.error(`usage: node compose-checks.mjs ${Object.keys(phases).join('|')}`);
  process.exit(2);
}
phase().then(
  () => log(`${process.argv[2]}: all checks passed`),
  (err) => {
    console.error('smoke: FAILED:', err);
    process.exit(1);
  },
);
