// The Swarm smoke's checks (infra/smoke/compose-smoke.sh deploys the stack and removes it around them):
// every service running and healthy, the shop through the gateway's host port, `docker service scale`
// taking traffic, a rolling `docker service update --force` with no failed read, and no secret in any
// `docker inspect`. Environment: SMOKE_STACK, SMOKE_DEPLOYED_AT (ms), SMOKE_HTTPS_PORT, SMOKE_HTTP_PORT,
// SMOKE_STATE (a JSON file the figures are written to). Exit code 1 on the first failed check.
import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import * as smoke from './lib.mjs';

const { check, log, sleep, until, docker, inspect } = smoke;
const STACK = process.env.SMOKE_STACK;
const STATE = process.env.SMOKE_STATE;
const ONE_SHOT = `${STACK}_secrets`;

const running = (service) =>
  docker(
    'ps',
    '-q',
    '--filter',
    `label=com.docker.stack.namespace=${STACK}`,
    ...(service ? ['--filter', `label=com.docker.swarm.service.name=${STACK}_${service}`] : []),
  )
    .split('\n')
    .filter(Boolean);
const target = {
  containers: running,
  exec: (service, code) => {
    const [id] = running(service);
    if (!id) throw new Error(`no running task of ${service}`);
    return docker('exec', id, 'node', '-e', code).trim();
  },
};
const services = () =>
  docker(
    'service',
    'ls',
    '--filter',
    `label=com.docker.stack.namespace=${STACK}`,
    '--format',
    '{{.Name}} {{.Replicas}}',
  )
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name, replicas] = line.split(' ');
      const [have, want] = replicas.split('/').map(Number);
      return { name, have, want };
    });

// What the engine did to the stack's containers while the checks ran: Swarm replaces a task whose
// healthcheck fails, so an `unhealthy` or an unplanned `die` explains a failed check (printed at the end).
const events = [];
const watcher = spawn(
  'docker',
  [
    'events',
    '--format',
    '{{json .}}',
    '--since',
    String(Math.floor(Number(process.env.SMOKE_DEPLOYED_AT) / 1000)),
    '--filter',
    'type=container',
    '--filter',
    `label=com.docker.stack.namespace=${STACK}`,
  ],
  { stdio: ['ignore', 'pipe', 'ignore'] },
);
watcher.stdout.setEncoding('utf8');
let pending = '';
watcher.stdout.on('data', (chunk) => {
  pending += chunk;
  const lines = pending.split('\n');
  pending = lines.pop();
  for (const line of lines) {
    const e = JSON.parse(line);
    if (/^(health_status: unhealthy|die|kill|oom)/.test(e.status)) {
      const a = e.Actor.Attributes;
      events.push(
        `${new Date(e.time * 1000).toISOString().slice(11, 19)} ${a['com.docker.swarm.task.name'] ?? a.name}: ${e.status}${a.exitCode ? ` (exit ${a.exitCode})` : ''}${a.signal ? ` (signal ${a.signal})` : ''}`,
      );
    }
  }
});
let reported = false;
function reportEvents() {
  if (reported) return;
  reported = true;
  watcher.kill();
  log(
    `swarm: container events (unhealthy, kill, die): ${events.length ? `\n  ${events.join('\n  ')}` : 'none'}`,
  );
}

async function main() {
  const state = { deployedAt: Number(process.env.SMOKE_DEPLOYED_AT) };

  // Every service running its replicas, every task container healthy; the one-shot completed.
  await until(
    'every service running, every task healthy, the secrets one-shot complete',
    async () => {
      const list = services();
      const short = list
        .filter((s) => s.name !== ONE_SHOT && s.have !== s.want)
        .map((s) => `${s.name} ${s.have}/${s.want}`);
      const oneShot = docker('service', 'ps', ONE_SHOT, '--format', '{{.CurrentState}}').split('\n')[0] ?? '';
      const unhealthy = inspect(running())
        .filter((c) => c.State.Health && c.State.Health.Status !== 'healthy')
        .map((c) => `${c.Name}:${c.State.Health.Status}`);
      return (
        (list.length >= 8 && short.length === 0 && unhealthy.length === 0 && /^Complete/.test(oneShot)) || {
          short,
          unhealthy,
          oneShot,
        }
      );
    },
    300_000,
    2000,
  );
  state.timeToHealthyMs = Date.now() - state.deployedAt;
  log(`swarm: healthy ${(state.timeToHealthyMs / 1000).toFixed(1)} s after \`docker stack deploy\``);

  // The shop, through the gateway's host-mode port; the logs of the purchase by its request id.
  const shop = await smoke.shopFlow('swarm');
  const adminToken = await smoke.adminLogin('swarm', smoke.adminPassword(target));
  await smoke.logsByRequestId('swarm', shop.requestId, adminToken);

  // docker service scale: three purchase tasks, each registered and taking reads.
  const scaled = Date.now();
  docker('service', 'scale', '--detach=false', `${STACK}_purchase=3`);
  await until(
    'docker service scale purchase=3: three instances registered',
    async () => smoke.registered(target, 'purchase').length === 3 || smoke.registered(target, 'purchase'),
    120_000,
    1000,
  );
  state.scaleToRegisteredMs = Date.now() - scaled;
  await until(
    'reads spread over the three purchase tasks',
    async () => {
      const served = await smoke.servedBy(target, 'purchase', '/purchases', shop.token);
      return served.length === 3 || served;
    },
    30_000,
    500,
  );

  // A rolling update of product (start-first) under a steady read load: not one failed read.
  const before = running('product');
  const load = smoke.readLoad('/products?limit=5', undefined);
  await sleep(1000);
  const rollStarted = Date.now();
  await promisify(execFile)('docker', [
    'service',
    'update',
    '--force',
    '--detach=false',
    '--quiet',
    `${STACK}_product`,
  ]);
  state.rollMs = Date.now() - rollStarted;
  await sleep(3000); // the old task's drain and deregistration, still under load
  const stats = await load.stop();
  const after = running('product');
  const updateState = docker(
    'service',
    'inspect',
    '--format',
    '{{.UpdateStatus.State}}',
    `${STACK}_product`,
  ).trim();
  check(
    updateState === 'completed' && after.length === 1 && !before.includes(after[0]),
    `docker service update --force product: a new task replaced the old one (${(state.rollMs / 1000).toFixed(1)} s, ${updateState})`,
    { before, after, updateState },
  );
  state.rollReads = stats.ok;
  state.rollFailed = stats.failed;
  check(
    stats.failed === 0 && stats.ok > 0,
    `no failed read during the rolling update (${stats.ok} reads)`,
    stats,
  );

  // No secret in `docker inspect` of any task container, nor in the services' specs.
  const volumes = docker('volume', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${STACK}`)
    .split('\n')
    .filter((v) => v.endsWith('-secrets'));
  const values = JSON.parse(
    docker(
      'run',
      '--rm',
      '--network',
      'none',
      ...volumes.flatMap((v) => ['-v', `${v}:/s/${v}:ro`]),
      'msa/distributor:dev',
      'node',
      '-e',
      "const fs=require('fs');const r=new Set();for(const v of fs.readdirSync('/s'))for(const f of fs.readdirSync('/s/'+v))r.add(fs.readFileSync('/s/'+v+'/'+f,'utf8').replace(/^requirepass /,'').trim());process.stdout.write(JSON.stringify([...r]))",
    ),
  );
  const containers = docker('ps', '-aq', '--filter', `label=com.docker.stack.namespace=${STACK}`)
    .split('\n')
    .filter(Boolean);
  const specs = docker('service', 'inspect', ...services().map((s) => s.name));
  const text = docker('inspect', ...containers) + specs;
  check(
    values.length >= 7 && !values.some((v) => text.includes(v)),
    `no secret in \`docker inspect\` of ${containers.length} task containers and ${services().length} service specs`,
  );

  const previous = STATE ? JSON.parse(readFileSync(STATE, 'utf8')) : {};
  writeFileSync(STATE, JSON.stringify({ ...previous, swarm: state }));
}

process.on('exit', () => reportEvents());
main().then(
  () => {
    reportEvents();
    log('swarm: all checks passed');
  },
  (err) => {
    console.error('smoke: FAILED:', err);
    process.exit(1);
  },
);
