// Part 2, the gateway hop on the product service: one product instance reached directly, through our gateway and
// through the proxies a user would pick instead, in interleaved sweeps. The realistic picture: at ~650 µs of CPU per
// request in the product service, every proxy's ratio is pulled towards 1×; the hop's verdict is part 1 (hop-light).
import { InternalTokens } from '@msa/service-kit';
import { listProducts, newMember } from './client';
import { pin, processTree, SERVER_CPU, stopProcess, type Spawned } from './proc';
import { gatewayVariants, NO_SHIPPING, variantNotes } from './gateway-variants';
import { ensureNativeProxies, startPeers, waitForRoute } from './proxies';
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
import { spawnService, startBenchSystem } from './system';

export const HOP_TITLE = '2. Gateway hop, product upstream (the realistic picture)';

export function hopDurations(ctx: BenchContext) {
  return { warmS: ctx.quick ? 1 : 3, runS: ctx.quick ? 2 : 10, sweeps: ctx.quick ? 1 : 3 };
}

export const OUR_WORK =
  'Our gateway ran with its real work on: the live route table from the registry, load balancing, request id, ' +
  'internal token, access log (one JSON line per request, to a file, written 4 KB at a time; shipping to the logging service off), metrics, the rate limiter (limit raised, still consulted) ' +
  'and, with a member token, the JWT check (verified once, then from the token cache).';

export async function hop(ctx: BenchContext): Promise<Section> {
  const cpu = SERVER_CPU();
  const notes: string[] = [];
  const haveNative = ensureNativeProxies(ctx, notes);

  const sys = await startBenchSystem({ only: ['distributor', 'member', 'product'] });
  const started: Spawned[] = [];
  try {
    for (const info of [...sys.system.instances, ...sys.system.databaseServers]) {
      if (info.pid) for (const pid of processTree(info.pid)) pin(pid, cpu);
    }
    // Our own product instance (pinned, log to a file), then the runner's one leaves, so every path below reaches the
    // very same upstream process.
    const upstream = await spawnService(sys, 'product', {
      cpus: cpu,
      env: NO_SHIPPING,
      logFile: ctx.log('hop-product.log'),
    });
    started.push(upstream);
    await sys.system.stopInstance('product', 1);
    const gateway = await spawnService(sys, 'gateway', {
      cpus: cpu,
      env: NO_SHIPPING,
      logFile: ctx.log('hop-gateway.log'),
    });
    started.push(gateway);
    await waitForRoute(gateway.url, '/products?limit=1');

    const memberToken = await newMember(gateway.url);
    const [product] = await listProducts(gateway.url);
    if (!product) throw new Error('no product in the catalogue');
    const productPath = `/products/${product.id}`;
    const internal = await new InternalTokens('bench', sys.system.internalTokenSecret, 3600).sign();
    // The request id a gateway would add: with it the upstream writes its request log line (the kit logs requests
    // that carry one), so it does the same work whichever path a request took. Our gateway makes its own.
    const direct = { 'x-internal-token': internal, 'x-request-id': 'bench-hop' };

    const targets: Target[] = [
      {
        name: 'direct (product, Express 5)',
        kind: 'direct',
        url: upstream.url,
        headers: direct,
        pids: () => [],
      },
      {
        name: 'our gateway, member token (JWT)',
        kind: 'ours',
        url: gateway.url,
        headers: { authorization: `Bearer ${memberToken}` },
        pids: () => [gateway.pid],
      },
      {
        name: 'our gateway, public (no JWT)',
        kind: 'diagnostic',
        url: gateway.url,
        headers: {},
        pids: () => [gateway.pid],
      },
    ];
    targets.push(
      ...(await gatewayVariants(ctx, sys, {
        cpu,
        label: 'our gateway, member token',
        readyPath: '/products?limit=1',
        headers: { authorization: `Bearer ${memberToken}` },
        logPrefix: 'hop',
        started,
      })),
    );
    targets.push(
      ...(await startPeers(ctx, {
        upstreamUrl: upstream.url,
        cpu,
        headers: direct,
        native: haveNative,
        node: [
          ['fast-gateway', 'fast-gateway.cjs'],
          ['Fastify + @fastify/http-proxy', 'fastify-http-proxy.cjs'],
          ['Express + http-proxy-middleware', 'express-http-proxy-middleware.cjs'],
        ],
        started,
      })),
    );

    const plan: SweepPlan = { targets, path: productPath, upstreamPid: upstream.pid, ...hopDurations(ctx) };
    const bodyBytes = await sameAnswerEverywhere(targets, productPath);
    const figures = new SweepFigures(targets, await runSweeps(ctx, plan), plan.sweeps);
    const lines = [
      conditions(
        plan,
        `one product instance (Express 5 behind the kit), \`GET /products/:id\` of a cached product (${bodyBytes}-byte JSON)`,
        cpu,
      ),
      '',
      figures.table(),
      '',
      ...[...picture(figures), ...notes].map((v) => `- ${v}`),
      `- ${OUR_WORK}`,
      '- nginx: 1 worker, `keepalive 128` upstream, access log on (to a file). HAProxy: `nbthread 1`, `http-reuse always`, no log. ' +
        'Node peers: their defaults plus a keep-alive upstream agent (http-proxy-middleware: 128 sockets).',
    ];
    return { id: 'hop', title: HOP_TITLE, body: lines.join('\n'), failed: false };
  } finally {
    for (const p of started.reverse()) await stopProcess(p);
    await sys.stop();
  }
}

/** What this heavy upstream shows; the targets are judged on the light one (part 1), not here. */
function picture(f: SweepFigures): string[] {
  const ours = 'our gateway, member token (JWT)';
  const out = [
    `Behind a real service the hop is a small share of a request: the product instance spent ${fixed(f.upstreamCpu(f.directName))} µs ` +
      `of CPU per request served directly, so every proxy's ratio is pulled towards 1× (our gateway ${ratio(f.ratioIn(ours), 1)}). ` +
      'The targets are judged on the light upstream (part 1), where the hop is visible.',
  ];
  if (f.targets.some((t) => t.name === 'nginx')) {
    out.push(
      `Our gateway (member token) reached ${ratio(f.ratioIn(ours, 'nginx'), 1)} nginx's throughput in the same sweep.`,
    );
  }
  const pub = 'our gateway, public (no JWT)';
  out.push(
    `With a member token the gateway spent ${fixed(f.hopCpu(ours) - f.hopCpu(pub))} µs more CPU per request than on the public route ` +
      `(${fixed(f.hopCpu(ours))} vs ${fixed(f.hopCpu(pub))}): the token-cache lookup itself is about 1.5 µs (measured alone), the ` +
      'rest is the longer headers a signed-in request carries both ways, and run-to-run noise (compare the access-log ' +
      'row). A token seen for the first time costs one ES256 verification (75–130 µs per the brief), once.',
  );
  out.push(f.cpuLine(ours));
  out.push(...variantNotes(f, ours, 'our gateway, member token'));
  return out;
}
