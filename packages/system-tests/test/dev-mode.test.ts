// Issue 18: `npm run dev`. The runner's watch over a running system: a service's source changes, it is rebuilt
// and its instances are replaced (new ones first), while the other services, the embedded databases and the
// registry keep running and a steady stream of requests through the gateway never fails. The edited service
// is a temporary copy, so that the test never writes into this checkout's sources.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { watchSystem, type DevWatcher, type Reload } from '@msa/runner';
import { call, eventually, steadyLoad } from './support/http';
import { newMember } from './support/members';
import { SERVICES_DIR, startTestSystem, type TestSystem } from './support/system';

const REPO = path.resolve(SERVICES_DIR, '..');
// The line of services/product/src/routes.ts the test edits: GET /products answers the list.
const LIST_HANDLER = 'handler: ({ query }) => listProducts(db, query),';

let copy: string;
let ts: TestSystem;
let dev: DevWatcher;
const lines: string[] = [];
const reloads: Reload[] = [];

/** services/ with product copied (sources, migrations, build) and every other service linked to this checkout. */
function copyOfServices(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'msa-dev-test-'));
  const services = path.join(root, 'services');
  mkdirSync(services);
  for (const name of ['distributor', 'gateway', 'member']) {
    symlinkSync(path.join(SERVICES_DIR, name), path.join(services, name), 'dir');
  }
  const product = path.join(services, 'product');
  for (const item of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'migrations', 'dist']) {
    cpSync(path.join(SERVICES_DIR, 'product', item), path.join(product, item), { recursive: true });
  }
  // What the copy's tsconfig extends and the packages it imports, as in the checkout.
  cpSync(path.join(REPO, 'tsconfig.base.json'), path.join(root, 'tsconfig.base.json'));
  symlinkSync(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  return root;
}

const routesFile = () => path.join(copy, 'services', 'product', 'src', 'routes.ts');

function editListRoute(replacement: string): void {
  const source = readFileSync(routesFile(), 'utf8');
  const current = source.includes(LIST_HANDLER)
    ? LIST_HANDLER
    : /handler: async \(\{ query \}\) => \(\{[^\n]*/.exec(source)?.[0];
  if (!current) throw new Error(`routes.ts no longer has the line this test edits: ${LIST_HANDLER}`);
  writeFileSync(routesFile(), source.replace(current, replacement));
}

const edition = (tag: string) =>
  `handler: async ({ query }) => ({ ...(await listProducts(db, query)), edition: '${tag}' }),`;

beforeAll(async () => {
  copy = copyOfServices();
  ts = await startTestSystem({
    only: ['gateway', 'member', 'product'],
    scale: { product: 2 },
    servicesDir: path.join(copy, 'services'),
  });
  dev = watchSystem(ts.system, { print: (line) => lines.push(line) });
  dev.on('reload', (reload: Reload) => reloads.push(reload));
}, 120_000);

afterAll(async () => {
  await dev?.close();
  await ts?.stop();
  if (copy) rmSync(copy, { recursive: true, force: true });
}, 60_000);

const listEdition = async (): Promise<string | undefined> => {
  const answer = await call(ts.gatewayUrl, 'GET', '/products?limit=1');
  if (answer.status !== 200) throw new Error(`GET /products answered ${answer.status}`);
  return answer.body.edition as string | undefined;
};

test('when a route of product changes, then the gateway answers with the new code, and no request to member or product failed', async () => {
  expect(dev.watched).toContain(path.join(copy, 'services', 'product', 'src'));
  // What `npm run dev` does before anyone edits: the compiler checks every watched package once.
  const warmStarted = Date.now();
  await dev.warming;
  const warmMs = Date.now() - warmStarted;
  expect(await listEdition()).toBeUndefined();
  const member = await newMember(ts.gatewayUrl);
  const others = {
    member: ts.system.instance('member').pid,
    distributor: ts.system.instance('distributor').pid,
    gateway: ts.system.instance('gateway').pid,
    databases: ts.system.databaseServers.map((db) => db.pid),
  };
  const oldProducts = ts.system.instances.filter((i) => i.service === 'product').map((i) => i.pid);

  let stopLoad: () => void = () => undefined;
  const loadDone = new Promise<void>((resolve) => (stopLoad = resolve));
  // Paced (a request per worker every 25 ms at most): a steady stream, not a load test competing with tsc.
  const send = (what: string, init?: RequestInit) => async () => {
    await new Promise((resolve) => setTimeout(resolve, 25));
    return fetch(`${ts.gatewayUrl}${what}`, { ...init, signal: AbortSignal.timeout(10_000) });
  };
  const memberLoad = steadyLoad(
    send('/members/me', { headers: { authorization: `Bearer ${member.token}` } }),
    {
      workers: 2,
      maxRequests: 20_000,
      until: loadDone,
    },
  );
  const productLoad = steadyLoad(send('/products?limit=1'), {
    workers: 2,
    maxRequests: 20_000,
    until: loadDone,
  });
  try {
    // 1. An edit: the new answer comes through the gateway.
    const editedAt = Date.now();
    editListRoute(edition('one'));
    await eventually(
      'the edited route answering through the gateway',
      async () => ((await listEdition()) === 'one' ? true : undefined),
      60_000,
    );
    const editToAnswerMs = Date.now() - editedAt;
    await dev.idle();

    // 2. A type error: printed, and the instances of the last good build keep serving.
    // Valid JavaScript, wrong types: only the type check stops it.
    editListRoute(edition(`two'.toFixed(1) + '`));
    await eventually(
      'the type error printed',
      async () => (lines.some((line) => line.startsWith('✖ product does not compile')) ? true : undefined),
      60_000,
    );
    await dev.idle();
    expect(await listEdition()).toBe('one');

    // 3. Fixed: the next good build replaces them.
    const fixedAt = Date.now();
    editListRoute(edition('three'));
    await eventually(
      'the fixed route answering through the gateway',
      async () => ((await listEdition()) === 'three' ? true : undefined),
      60_000,
    );
    const fixToAnswerMs = Date.now() - fixedAt;
    await dev.idle();

    // The figure for the docs: it depends on the machine and on how busy it is, hence the load average.
    console.log(
      `dev mode: edit → new answer through the gateway in ${(editToAnswerMs / 1000).toFixed(1)} s ` +
        `(the first edit), fix → new answer in ${(fixToAnswerMs / 1000).toFixed(1)} s; the compiler warmed up ` +
        `in ${(warmMs / 1000).toFixed(1)} s more after the start ` +
        `(load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)\n` +
        lines
          .filter((line) => /^[↻✖] /.test(line))
          .map((line) => line.split('\n')[0])
          .join('\n'),
    );
  } finally {
    stopLoad();
  }
  const [toMember, toProduct] = await Promise.all([memberLoad, productLoad]);

  expect(toMember.failures).toEqual([]);
  expect(toProduct.failures).toEqual([]);
  expect(toMember.sent).toBeGreaterThan(20);
  expect(toProduct.sent).toBeGreaterThan(20);
  // Only product was replaced, both its instances (--scale kept), each round once.
  const restartLines = lines.filter((line) => line.startsWith('↻ '));
  expect(restartLines).toHaveLength(2);
  for (const line of restartLines) {
    expect(line).toMatch(
      /^↻ product: 2 instance\(s\) replaced in \d+\.\d s after a \d+\.\d s build — \d+\.\d s from the change$/,
    );
  }
  expect(reloads.map((r) => [r.replaced, r.failed])).toEqual([
    [['product'], []],
    [[], ['product']],
    [['product'], []],
  ]);
  const nowProducts = ts.system.instances.filter((i) => i.service === 'product');
  expect(nowProducts.map((i) => i.label)).toEqual(['product#1', 'product#2']);
  expect(nowProducts.map((i) => i.state)).toEqual(['ready', 'ready']);
  for (const pid of oldProducts) expect(nowProducts.map((i) => i.pid)).not.toContain(pid);
  expect({
    member: ts.system.instance('member').pid,
    distributor: ts.system.instance('distributor').pid,
    gateway: ts.system.instance('gateway').pid,
    databases: ts.system.databaseServers.map((db) => db.pid),
  }).toEqual(others);
}, 240_000);
