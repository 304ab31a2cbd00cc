// Issue 19.3: a real Prometheus (Debian's `prometheus` package) finds every instance through the distributor's
// HTTP service discovery — the gateway at its admin port — and follows scaling: an added instance appears `up`, a
// stopped one disappears. `promtool check config` checks the config Compose ships (infra/prometheus).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '@msa/runner';
import { eventually } from './support/http';
import { startTestSystem, type TestSystem } from './support/system';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const PROMETHEUS = process.env.PROMETHEUS_PATH || '/usr/bin/prometheus';
const PROMTOOL = process.env.PROMTOOL_PATH || '/usr/bin/promtool';

/**
 * `describe` when the tool is there. Without it a developer's run skips with a line saying how to install it; CI
 * (CI set, as GitHub Actions and .ci/run do) fails, so a test that cannot run there never passes as green.
 */
function describeWith(tool: string, what: string): jest.Describe {
  if (existsSync(tool)) return describe;
  if (process.env.CI) {
    test(`${what}: ${tool} is installed (CI)`, () => {
      throw new Error(`no ${tool}: CI must install it (apt-get install -y prometheus)`);
    });
  } else {
    console.warn(`${what} skipped: no ${tool} (apt-get install -y prometheus)`);
  }
  return describe.skip;
}

describeWith(PROMTOOL, 'the shipped Prometheus config')('the shipped Prometheus config', () => {
  test('when promtool checks infra/prometheus/prometheus.yml, then it is valid', () => {
    const out = spawnSync(
      PROMTOOL,
      ['check', 'config', path.join(REPO_ROOT, 'infra/prometheus/prometheus.yml')],
      {
        encoding: 'utf8',
      },
    );
    expect({ status: out.status, output: out.stdout + out.stderr }).toEqual({
      status: 0,
      output: expect.stringContaining('SUCCESS'),
    });
  });
});

interface ActiveTarget {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

describeWith(PROMETHEUS, 'Prometheus discovering through the registry')(
  'Prometheus discovering through the registry',
  () => {
    let ts: TestSystem;
    let prometheus: ChildProcess | undefined;
    let promUrl: string;
    let dir: string;
    const output: string[] = [];

    beforeAll(async () => {
      ts = await startTestSystem({
        only: ['gateway', 'member', 'product', 'purchase'],
        scale: { purchase: 2 },
      });
      dir = mkdtempSync(path.join(tmpdir(), 'msa-prometheus-'));
      // As infra/prometheus/prometheus.yml, pointed at this system's distributor, with short intervals.
      writeFileSync(
        path.join(dir, 'prometheus.yml'),
        [
          'global: { scrape_interval: 1s, scrape_timeout: 1s }',
          'scrape_configs:',
          '  - job_name: msa',
          '    honor_labels: true',
          '    http_sd_configs:',
          `      - { url: '${ts.distributorUrl}/prometheus/targets', refresh_interval: 1s }`,
          '',
        ].join('\n'),
      );
      const port = await freePort();
      promUrl = `http://127.0.0.1:${port}`;
      prometheus = spawn(
        PROMETHEUS,
        [
          `--config.file=${path.join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${path.join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      prometheus.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
      prometheus.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
      await eventually(
        'Prometheus ready',
        async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined),
        30_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${output.join('').slice(-2000)}`);
      });
    }, 180_000);

    afterAll(async () => {
      if (prometheus && prometheus.exitCode === null) {
        const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
        prometheus.kill('SIGTERM');
        await exited;
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
      await ts?.stop();
    }, 60_000);

    const targets = async (): Promise<ActiveTarget[]> => {
      const res = await fetch(`${promUrl}/api/v1/targets?state=active`);
      const body = (await res.json()) as { data: { activeTargets: ActiveTarget[] } };
      return body.data.activeTargets;
    };

    const liveInstances = () =>
      ts.system.instances
        .filter((i) => i.state === 'ready' && i.service !== 'distributor')
        .map((i) => i.instanceId!);

    test('when the shop runs with purchase scaled to 2, then every instance is a target and up, the gateway at its admin port', async () => {
      const expected = liveInstances();
      expect(expected.filter((id) => id.startsWith('purchase-'))).toHaveLength(2);
      const found = await eventually(
        'every instance up in Prometheus',
        async () => {
          const active = await targets();
          const up = active.filter((t) => t.health === 'up').map((t) => t.labels.instance_id);
          return expected.every((id) => up.includes(id)) ? active : undefined;
        },
        30_000,
      );
      expect(found.map((t) => t.labels.instance_id).sort()).toEqual([...expected].sort());
      const gateway = found.find((t) => t.labels.service === 'gateway')!;
      expect(gateway.scrapeUrl).toBe(`${ts.gatewayAdminUrl}/metrics`);
      expect(gateway.labels).toMatchObject({ job: 'msa', version: expect.any(String) });
      // Scraped, not only listed: the gateway's own series are in Prometheus, from its admin port.
      const query = await fetch(
        `${promUrl}/api/v1/query?query=${encodeURIComponent('gateway_upstream_in_flight')}`,
      );
      expect(query.status).toBe(200);
    }, 60_000);

    test('when purchase is scaled up, then the new instance appears up; when it stops, it disappears', async () => {
      const added = await ts.system.addInstance('purchase');
      const id = added.instanceId!;
      await eventually(
        `${id} up in Prometheus`,
        async () =>
          (await targets()).some((t) => t.labels.instance_id === id && t.health === 'up') ? true : undefined,
        30_000,
      );
      await ts.system.stopInstance('purchase', added.index);
      await eventually(
        `${id} gone from Prometheus`,
        async () => ((await targets()).some((t) => t.labels.instance_id === id) ? undefined : true),
        30_000,
      );
      // The others stay.
      const left = (await targets())
        .filter((t) => t.labels.service === 'purchase')
        .map((t) => t.labels.instance_id);
      expect(left).toHaveLength(2);
    }, 90_000);
  },
);
