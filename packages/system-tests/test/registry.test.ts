// Issue 3: the registry with real processes. Instances come and go (added, stopped, killed with SIGKILL),
// the distributor goes away and comes back, and a second distributor joins on the same Redis; the gateway
// keeps routing through all of it.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { InstanceRecord } from '@msa/service-kit';
import { call, eventually, RegistryStream, steadyLoad, type Answer } from './support/http';
import { LEASE_MS, SERVICES_DIR, startTestSystem, type TestSystem } from './support/system';

let ts: TestSystem;
let productIds: string[];

beforeAll(async () => {
  ts = await startTestSystem({ only: ['gateway', 'product'], scale: { product: 2 } });
  const list = await call(ts.gatewayUrl, 'GET', '/products?limit=5');
  expect(list.status).toBe(200);
  productIds = (list.body.items as { id: string }[]).map((p) => p.id);
  expect(productIds.length).toBeGreaterThan(0);
}, 120_000);

afterAll(() => ts?.stop(), 60_000);

const registry = async (url = ts.distributorUrl, what = '/registry/services/product'): Promise<Answer> =>
  call(url, 'GET', what, { internalToken: await ts.internalToken() });

const liveProducts = () =>
  ts.system.instances.filter((i) => i.service === 'product' && i.state === 'ready').map((i) => i.instanceId!);

const readProduct = (n: number) =>
  fetch(`${ts.gatewayUrl}/products/${productIds[n % productIds.length]}`, {
    signal: AbortSignal.timeout(10_000),
  });

/** Has the gateway answered a request with this instance? Its per-instance metrics say so. */
async function gatewayServedBy(instanceId: string): Promise<boolean> {
  const metrics = await call(ts.gatewayAdminUrl, 'GET', '/metrics');
  return (metrics.body as string)
    .split('\n')
    .some(
      (line) =>
        line.startsWith('gateway_upstream_responses_total{') && line.includes(`instance="${instanceId}"`),
    );
}

async function gatewayRoutesTo(instanceId: string): Promise<boolean> {
  const table = await call(ts.gatewayAdminUrl, 'GET', '/internal/routes', {
    internalToken: await ts.internalToken('gateway-test'),
  });
  expect(table.status).toBe(200);
  const route = (
    table.body.routes as { method: string; path: string; instances: { instanceId: string }[] }[]
  ).find((r) => r.method === 'GET' && r.path === '/products/:id');
  return route?.instances.some((i) => i.instanceId === instanceId) ?? false;
}

describe('instances joining and leaving', () => {
  test('when an instance is added, then the gateway routes to it without a restart; when it stops, it leaves the table', async () => {
    const watch = await RegistryStream.open(ts.distributorUrl, await ts.internalToken());
    try {
      const added = await ts.system.addInstance('product');
      await watch.waitFor('up', (d) => d.instance.instanceId === added.instanceId);

      // The gateway learns of it from its watch stream: no restart, no poll interval to wait out.
      await eventually(`the gateway routing to ${added.instanceId}`, async () => {
        for (let n = 0; n < 3; n++) expect((await readProduct(n)).status).toBe(200);
        return (await gatewayServedBy(added.instanceId!)) || undefined;
      });

      await ts.system.stopInstance('product', added.index);
      const down = await watch.waitFor('down', (d) => d.instanceId === added.instanceId);
      expect(down.reason).toBe('deregistered');
      await eventually('the gateway dropping the stopped instance', async () =>
        (await gatewayRoutesTo(added.instanceId!)) ? undefined : true,
      );
      expect((await readProduct(0)).status).toBe(200);
    } finally {
      watch.close();
    }
  });

  test('when an instance is killed with SIGKILL under a steady GET load, then no request fails, and its lease runs out', async () => {
    const watch = await RegistryStream.open(ts.distributorUrl, await ts.internalToken());
    try {
      const victim = ts.system.instance('product', 1);
      expect(liveProducts()).toHaveLength(2);
      let sent = 0;
      let afterKill: () => void = () => undefined;
      const done = new Promise<void>((resolve) => (afterKill = resolve));
      const load = steadyLoad(() => readProduct(sent++), { workers: 4, maxRequests: 5000, until: done });

      // Both instances hold keep-alive sockets and requests in flight when the kill lands.
      await eventually('a warmed-up load', async () => (sent >= 40 ? true : undefined));
      const back = ts.system.nextReady('product', 1);
      await ts.system.kill('product', 1, 'SIGKILL');
      const down = await watch.waitFor('down', (d) => d.instanceId === victim.instanceId, 10 * LEASE_MS);
      const restarted = await back;
      const sentAtDown = sent;
      await eventually('more requests after the lease ran out', async () =>
        sent >= sentAtDown + 40 ? true : undefined,
      );
      afterKill();
      const result = await load;

      expect(down.reason).toBe('lease-expired'); // killed: it could not deregister
      expect(result.failures).toEqual([]);
      expect(result.sent).toBeGreaterThan(80);
      expect(restarted.instanceId).not.toBe(victim.instanceId);
      const listed = (await registry()).body.instances.map((i: InstanceRecord) => i.instanceId);
      expect(listed).not.toContain(victim.instanceId);
      expect(listed).toContain(restarted.instanceId);
    } finally {
      watch.close();
    }
  });
});

describe('the distributor going away', () => {
  test('when the distributor is killed and stays down, then traffic keeps flowing; when it is back, every live instance is listed', async () => {
    const before = (await registry()).body.instances as InstanceRecord[];
    expect(before.map((i) => i.instanceId).sort()).toEqual(liveProducts().sort());

    await ts.system.kill('distributor', 1, 'SIGKILL');
    await ts.system.stopInstance('distributor'); // no restart by the runner: an outage longer than a lease
    await expect(registry()).rejects.toThrow();
    const outage = new Promise((resolve) => setTimeout(resolve, 3 * LEASE_MS));
    let sent = 0;
    const result = await steadyLoad(() => readProduct(sent++), {
      workers: 2,
      maxRequests: 3000,
      until: outage,
    });
    expect(result.failures).toEqual([]);
    expect(result.sent).toBeGreaterThan(20);

    await ts.system.restart('distributor');
    // Load again while the gateway reconnects and (in memory) the registry refills: a snapshot still empty or
    // partial must not empty the gateway's table.
    const settled = (async () => {
      const listed = await eventually('every live product instance listed again', async () => {
        const instances = (await registry()).body.instances as InstanceRecord[];
        const ids = instances.map((i) => i.instanceId).sort();
        return JSON.stringify(ids) === JSON.stringify(liveProducts().sort()) ? instances : undefined;
      });
      await new Promise((resolve) => setTimeout(resolve, 2 * LEASE_MS));
      return listed;
    })();
    const whileBack = await steadyLoad(() => readProduct(sent++), {
      workers: 2,
      maxRequests: 3000,
      until: settled,
    });
    const after = await settled;
    expect(whileBack.failures).toEqual([]);
    const registeredAt = (list: InstanceRecord[]) =>
      Object.fromEntries(list.map((i) => [i.instanceId, i.registeredAt]));
    if (process.env.REDIS_URL) {
      // On Redis the registry outlived the distributor: the same records, nobody had to register again.
      expect(registeredAt(after)).toEqual(registeredAt(before));
    } else {
      // In memory it restarted empty: each instance's heartbeat got 404 and it registered again.
      for (const record of after) {
        expect(Date.parse(record.registeredAt)).toBeGreaterThan(
          Date.parse(registeredAt(before)[record.instanceId]!),
        );
      }
    }
  });

  const onRedis = process.env.REDIS_URL ? test : test.skip;
  onRedis(
    'when a second distributor replica runs on the same Redis, then both give the same answer and push each other’s changes (needs REDIS_URL: replicas share the registry through Redis)',
    async () => {
      const second = await startDistributorReplica(ts.env);
      const token = await ts.internalToken();
      const watchFirst = await RegistryStream.open(ts.distributorUrl, token);
      const watchSecond = await RegistryStream.open(second.url, token);
      try {
        const same = await eventually('the same registry from both replicas', async () => {
          const one = await registry(ts.distributorUrl, '/registry/services');
          const two = await registry(second.url, '/registry/services');
          const again = await registry(ts.distributorUrl, '/registry/services');
          if (one.body.revision !== again.body.revision) return undefined; // it changed meanwhile: ask again
          return { one: summary(one.body.services), two: summary(two.body.services), revisions: [one, two] };
        });
        expect(same.two).toEqual(same.one);
        expect(same.revisions[1]!.body.revision).toBe(same.revisions[0]!.body.revision);
        expect(same.one.product).toEqual(liveProducts().sort());

        const instanceId = `probe-${process.pid}-${Date.now()}`;
        const put = await call(second.url, 'PUT', `/registry/instances/${instanceId}`, {
          internalToken: token,
          body: { service: 'probe', instanceId, address: 'http://127.0.0.1:9', version: '1', routes: [] },
        });
        expect(put.status).toBe(200);
        await watchFirst.waitFor('up', (d) => d.instance.instanceId === instanceId);
        const listed = await registry(ts.distributorUrl, '/registry/services/probe');
        expect(listed.body.instances.map((i: InstanceRecord) => i.instanceId)).toEqual([instanceId]);

        const del = await call(ts.distributorUrl, 'DELETE', `/registry/instances/${instanceId}`, {
          internalToken: token,
        });
        expect(del.status).toBe(204);
        const down = await watchSecond.waitFor('down', (d) => d.instanceId === instanceId);
        expect(down.reason).toBe('deregistered');
      } finally {
        watchFirst.close();
        watchSecond.close();
        await second.stop();
      }
    },
  );
});

/** Service name → its instance ids with their registration times, sorted: what two replicas must agree on. */
function summary(services: Record<string, InstanceRecord[]>): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(services).map(([name, list]) => [name, list.map((i) => i.instanceId).sort()]),
  );
}

/** A second distributor process, outside the runner, on a free port, sharing the first one's Redis and prefix. */
async function startDistributorReplica(
  env: NodeJS.ProcessEnv,
): Promise<{ url: string; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(SERVICES_DIR, 'distributor', 'dist', 'main.js')],
    {
      env: { ...env, NODE_ENV: 'development', HOST: '127.0.0.1', PORT: '0', DISTRIBUTOR_URL: '' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`second distributor not ready in 20 s: ${stderr}`)),
        20_000,
      );
      child.on('message', (message: { type?: string; url?: string }) => {
        if (message.type === 'ready' && message.url) {
          clearTimeout(timer);
          resolve(message.url);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`second distributor exited with ${code}: ${stderr}`));
      });
    });
    return { url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
