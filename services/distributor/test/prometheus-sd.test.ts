// Prometheus's HTTP service discovery over real HTTP: what a Prometheus with `http_sd_configs` reads.
import { registration } from './support/fixtures';
import { dropRedisKeys, startDistributor, type TestDistributor } from './support/distributor';

let distributor: TestDistributor;
beforeAll(async () => {
  distributor = await startDistributor();
});
afterAll(async () => {
  await distributor.stop();
  await dropRedisKeys();
});

const targets = async () => {
  // No internal token: Prometheus cannot sign one, and the list is open like /metrics.
  const res = await fetch(`${distributor.url}/prometheus/targets`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as Array<{ targets: string[]; labels: Record<string, string> }>;
};

describe('Prometheus HTTP service discovery', () => {
  it('when instances register, then each is one target group at its metrics address, labelled service, instance id and version; when it leaves, it is gone', async () => {
    const withMetrics = registration({
      service: 'gateway',
      address: 'http://10.0.0.5:9080',
      metricsUrl: 'http://10.0.0.5:9080/metrics',
    });
    // An older kit sends no metricsUrl: its metrics are at `${address}/metrics`.
    const older = registration({ service: 'purchase', address: 'http://purchase-2:8080/' });
    for (const reg of [withMetrics, older]) {
      expect((await distributor.call('PUT', `/registry/instances/${reg.instanceId}`, reg)).status).toBe(200);
    }

    const groups = await targets();
    expect(groups).toContainEqual({
      targets: ['10.0.0.5:9080'],
      labels: {
        __scheme__: 'http',
        __metrics_path__: '/metrics',
        service: 'gateway',
        instance_id: withMetrics.instanceId,
        version: withMetrics.version,
      },
    });
    expect(groups).toContainEqual({
      targets: ['purchase-2:8080'],
      labels: expect.objectContaining({ __metrics_path__: '/metrics', instance_id: older.instanceId }),
    });

    await distributor.call('DELETE', `/registry/instances/${older.instanceId}`);
    expect((await targets()).map((g) => g.labels.instance_id)).not.toContain(older.instanceId);
  });

  it('when a metricsUrl is not an http URL, then the registration is refused and nothing changes', async () => {
    const before = await targets();
    const bad = registration({ service: 'member' });
    const res = await distributor.call('PUT', `/registry/instances/${bad.instanceId}`, {
      ...bad,
      metricsUrl: 'file:///etc/passwd',
    });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'body.metricsUrl' })]);
    expect(await targets()).toEqual(before);
  });

  it('when the list is asked with another method, then it is not served', async () => {
    const res = await fetch(`${distributor.url}/prometheus/targets`, { method: 'POST' });
    expect(res.status).toBe(401); // the kit's answer to any call without an internal token
  });
});
