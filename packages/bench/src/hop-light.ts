// Part 1, the gateway hop's verdict: a light upstream (node:http, one fixed ~300-byte JSON), registered at the
// distributor like any instance behind a member route, reached directly, through our gateway and through the proxies
// a user would pick instead. At a few tens of µs per request upstream, the hop's own cost is what the run shows.
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { InternalTokens, INTERNAL_TOKEN_HEADER } from '@msa/service-kit';
import { load } from './cannon';
import { call, newMember } from './client';
import { gatewayVariants, NO_SHIPPING, variantNotes } from './gateway-variants';
import { hopDurations, OUR_WORK } from './hop';
import {
  cores,
  freePort,
  LOADGEN_CPU,
  pin,
  processTree,
  SERVER_CPU,
  spawnPinned,
  stopProcess,
  type Spawned,
} from './proc';
import { summarizeProfile } from './profile';
import { ensureNativeProxies, PEERS_DIR, startPeers, waitForRoute, waitListening } from './proxies';
import type { BenchContext, Section } from './report';
import { fixed, ratio } from './stats';
import {
  conditions,
  runSweeps,
  sameAnswerEverywhere,
  SweepFigures,
  type SweepPlan,
  type Target,
} from './sweeps';
import { spawnService, startBenchSystem, type BenchSystem, type OwnInstance } from './system';

export const HOP_LIGHT_TITLE = '1. Gateway hop, light upstream (the verdict)';

/** A member route: the gateway checks the member token before it proxies. */
const LIGHT_ROUTE = { method: 'GET', path: '/light/:id', public: true, auth: 'user' } as const;
const LIGHT_PATH = '/light/1';
const OURS = 'our gateway, member route (JWT)';
/** The prefix of the variant rows (no access log, baseline checkout, OTel SDK on). */
const VARIANTS = 'our gateway, member route';

export async function hopLight(ctx: BenchContext): Promise<Section> {
  const cpu = SERVER_CPU();
  const notes: string[] = [];
  const haveNative = ensureNativeProxies(ctx, notes);

  const sys = await startBenchSystem({ only: ['distributor', 'member'] });
  const started: Spawned[] = [];
  let lease: Lease | undefined;
  try {
    for (const info of [...sys.system.instances, ...sys.system.databaseServers]) {
      if (info.pid) for (const pid of processTree(info.pid)) pin(pid, cpu);
    }
    const upPort = await freePort();
    const upstream = spawnPinned(process.execPath, [path.join(PEERS_DIR, 'light-upstream.cjs')], {
      cpus: cpu,
      env: { ...process.env, PORT: String(upPort) },
      logFile: ctx.log('hop-light-upstream.log'),
    });
    started.push(upstream);
    const upstreamUrl = `http://127.0.0.1:${upPort}`;
    await waitListening(upstreamUrl, upstream, 'the light upstream');
    lease = await Lease.start(sys, {
      service: 'light',
      instanceId: `light-bench-${randomUUID().slice(0, 8)}`,
      address: upstreamUrl,
      version: '0.0.0',
      routes: [LIGHT_ROUTE],
    });

    const gateway = await spawnService(sys, 'gateway', {
      cpus: cpu,
      env: NO_SHIPPING,
      logFile: ctx.log('hop-light-gateway.log'),
    });
    started.push(gateway);
    await waitForRoute(gateway.url, '/.well-known/jwks.json');
    const member = { authorization: `Bearer ${await newMember(gateway.url)}` };
    await waitForRoute(gateway.url, LIGHT_PATH, member);
    // Every path gets the same client request, the member token included: what a proxy adds or drops on the way
    // is its own doing (the upstream's CPU per request shows what that costs behind it).
    const targets: Target[] = [
      { name: 'direct (node:http)', kind: 'direct', url: upstreamUrl, headers: member, pids: () => [] },
      { name: OURS, kind: 'ours', url: gateway.url, headers: member, pids: () => [gateway.pid] },
      ...(await gatewayVariants(ctx, sys, {
        cpu,
        label: VARIANTS,
        readyPath: LIGHT_PATH,
        headers: member,
        logPrefix: 'hop-light',
        started,
      })),
    ];
    targets.push(
      ...(await startPeers(ctx, {
        upstreamUrl,
        cpu,
        headers: member,
        native: haveNative,
        node: [
          ['node:http + keep-alive Agent', 'node-http-agent.cjs'],
          ['undici Pool', 'undici-pool.cjs'],
          ['fast-gateway', 'fast-gateway.cjs'],
          ['Fastify + @fastify/http-proxy', 'fastify-http-proxy.cjs'],
        ],
        env: { PREFIX: '/light' },
        started,
      })),
    );

    const plan: SweepPlan = { targets, path: LIGHT_PATH, upstreamPid: upstream.pid, ...hopDurations(ctx) };
    const bodyBytes = await sameAnswerEverywhere(targets, LIGHT_PATH);
    const figures = new SweepFigures(targets, await runSweeps(ctx, plan), plan.sweeps);
    const { lines: verdict, missed } = judge(figures);
    const lines = [
      'This part is the hop’s verdict: its upstream does almost nothing, so what each proxy costs is what the run ' +
        'shows. Part 2 (product upstream) is the realistic picture, where the service behind the hop dominates.',
      '',
      conditions(
        plan,
        `a minimal node:http server answering a fixed ${bodyBytes}-byte JSON (\`packages/bench/peers/light-upstream.cjs\`), ` +
          `registered at the distributor as service \`light\` with the member route \`GET /light/:id\` (auth \`user\`), ` +
          `so our gateway reaches it through its live route table; \`GET ${LIGHT_PATH}\` with a member token on every path`,
        cpu,
      ),
      '',
      figures.table(),
      '',
      ...[...verdict, ...notes].map((v) => `- ${v}`),
      `- ${OUR_WORK}`,
      '- nginx: 1 worker, `keepalive 128` upstream, access log on (to a file). HAProxy: `nbthread 1`, `http-reuse always`, no log. ' +
        'node:http + keep-alive Agent and undici Pool: ~30-line scripts in `packages/bench/peers/` (128 upstream sockets, streaming). ' +
        'fast-gateway and Fastify + @fastify/http-proxy: their defaults.',
    ];
    if (missed && !ctx.noProfile) {
      lines.push('', '#### Where the gateway’s time goes', '');
      lines.push(...(await profileGateway(ctx, sys, cpu, LIGHT_PATH, member, plan.runS)));
    }
    return { id: 'hop-light', title: HOP_LIGHT_TITLE, body: lines.join('\n'), failed: false };
  } finally {
    await lease?.stop();
    for (const p of started.reverse()) await stopProcess(p);
    await sys.stop();
  }
}

/** The brief's targets for the hop, each met or missed, with by how much. */
function judge(f: SweepFigures): { lines: string[]; missed: boolean } {
  const lines: string[] = [];
  let missed = false;
  const ourCpu = f.hopCpu(OURS);
  const best = f.bestNodePeer();
  if (best) {
    const ok = ourCpu <= best.cpu;
    missed ||= !ok;
    lines.push(
      `Target “proxy CPU per request at or below the best Node peer’s”: ${ok ? 'met' : 'MISSED'} — our gateway ` +
        `${fixed(ourCpu)} µs against ${best.name} ${fixed(best.cpu)} µs (${ratio(ourCpu, best.cpu)}).`,
    );
  }
  const has = (name: string) => f.targets.some((t) => t.name === name);
  if (has('nginx')) {
    const x = ourCpu / f.hopCpu('nginx');
    lines.push(
      `Goal beyond it, “within 1.2× of nginx’s CPU per request”: ${x <= 1.2 ? 'met' : 'not yet'} — ${ratio(x, 1)} ` +
        `(nginx ${fixed(f.hopCpu('nginx'))} µs). Throughput: our gateway ${ratio(f.ratioIn(OURS), 1)} direct, ` +
        `${ratio(f.ratioIn(OURS, 'nginx'), 1)} nginx.`,
    );
    const ours = f.upstreamCpu(OURS);
    const nginx = f.upstreamCpu('nginx');
    const ok = ours <= nginx * 1.1;
    missed ||= !ok;
    lines.push(
      `Target “the upstream’s CPU per request behind our gateway within 10 % of behind nginx”: ${ok ? 'met' : 'MISSED'} — ` +
        `${fixed(ours)} µs against ${fixed(nginx)} µs (${ours >= nginx ? '+' : ''}${fixed(((ours - nginx) / nginx) * 100)} %; direct ` +
        `${fixed(f.upstreamCpu(f.directName))} µs): the headers a proxy adds are parsed by the service behind it.`,
    );
  } else {
    lines.push('nginx could not be run here, so the targets against nginx are not measured.');
  }
  if (has('fast-gateway')) {
    const ours = f.p99(OURS);
    const fg = f.p99('fast-gateway');
    const ok = ours <= fg;
    missed ||= !ok;
    lines.push(
      `Target “p99 under 50 connections no worse than fast-gateway’s”: ${ok ? 'met' : 'MISSED'} — ${fixed(ours)} ms against ${fixed(fg)} ms.`,
    );
  }
  lines.push(f.cpuLine(OURS));
  lines.push(...variantNotes(f, OURS, VARIANTS));
  return { lines, missed };
}

/** Keeps the light upstream registered as the kit keeps a service's instance: a lease renewed every lease/3. */
class Lease {
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly distributor: string,
    private readonly tokens: InternalTokens,
    private readonly registration: { instanceId: string },
  ) {}

  static async start(
    sys: BenchSystem,
    registration: { instanceId: string; [k: string]: unknown },
  ): Promise<Lease> {
    const lease = new Lease(
      sys.system.distributorUrl!,
      new InternalTokens('bench', sys.system.internalTokenSecret, 60),
      registration,
    );
    const leaseMs = await lease.register();
    lease.timer = setInterval(() => void lease.heartbeat(), leaseMs / 3);
    return lease;
  }

  private get path(): string {
    return `/registry/instances/${encodeURIComponent(this.registration.instanceId)}`;
  }

  private async headers(): Promise<Record<string, string>> {
    return { [INTERNAL_TOKEN_HEADER]: await this.tokens.sign() };
  }

  private async register(): Promise<number> {
    const res = await call<{ leaseMs?: number }>(this.distributor, 'PUT', this.path, {
      headers: await this.headers(),
      body: this.registration,
    });
    if (res.status !== 200) throw new Error(`the distributor refused the light upstream: ${res.status}`);
    return res.data.leaseMs ?? 5000;
  }

  private async heartbeat(): Promise<void> {
    const res = await call(this.distributor, 'POST', `${this.path}/heartbeat`, {
      headers: await this.headers(),
      body: {},
    }).catch(() => undefined);
    // Forgotten (e.g. a lease missed while the load generator held this process): register again, as the kit does.
    if (res?.status === 404) await this.register().catch(() => undefined);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await call(this.distributor, 'DELETE', this.path, { headers: await this.headers() }).catch(
      () => undefined,
    );
  }
}

/** A second gateway with `node --cpu-prof`, the member-route load for one run, then its top self-time functions. */
async function profileGateway(
  ctx: BenchContext,
  sys: BenchSystem,
  cpu: string,
  urlPath: string,
  headers: Record<string, string>,
  runS: number,
): Promise<string[]> {
  const dir = ctx.dir('profile');
  let gw: OwnInstance | undefined;
  const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
  let from = 0;
  let to = Infinity;
  try {
    gw = await spawnService(sys, 'gateway', {
      cpus: cpu,
      nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
      env: NO_SHIPPING,
      logFile: ctx.log('hop-gateway-profiled.log'),
    });
    await waitForRoute(gw.url, urlPath, headers);
    pin(process.pid, LOADGEN_CPU);
    await load({ url: gw.url + urlPath, headers, duration: 1 });
    from = monotonicUs();
    await load({ url: gw.url + urlPath, headers, duration: runS });
    to = monotonicUs();
    pin(process.pid, `0-${cores() - 1}`);
  } finally {
    if (gw) await stopProcess(gw, 10_000);
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return ['(no profile was written)'];
  return summarizeProfile(JSON.parse(readFileSync(path.join(dir, file), 'utf8')), 15, from, to);
}
