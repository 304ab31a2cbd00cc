// Our gateway in the variants both hop parts compare: the same gateway with its access log off (what one log line
// per request costs), the same gateway built from another checkout (BENCH_BASELINE=<its root>, e.g. one without
// trace context: what trace context costs), and with the OpenTelemetry SDK on, exporting to a sink in this process
// (what spans cost), also with 10 % of traces sampled. Each is a diagnostic row: in no verdict.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Spawned } from './proc';
import { waitForRoute } from './proxies';
import type { BenchContext } from './report';
import { fixed, signedMicros } from './stats';
import type { SweepFigures, Target } from './sweeps';
import { spawnService, type BenchSystem } from './system';

/** The access log goes to a file, as nginx's does; shipping it to the logging service is not part of the hop. */
export const NO_SHIPPING = { LOG_SHIPPING: 'off' };

export const NO_ACCESS_LOG = 'no access log';
export const BASELINE = 'baseline checkout';
export const OTEL_ON = 'OTel SDK on';
export const OTEL_SAMPLED = 'OTel SDK on, 10 % sampled';

interface VariantOptions {
  cpu: string;
  /** Prefix of each row's name, e.g. "our gateway, member route". */
  label: string;
  /** A path the variant must route before it is measured, and the headers to ask it with. */
  readyPath: string;
  headers: Record<string, string>;
  /** Log-file prefix, e.g. "hop-light". */
  logPrefix: string;
  started: Spawned[];
}

/** Starts the variants (the baseline only with BENCH_BASELINE set) and returns their rows. */
export async function gatewayVariants(
  ctx: BenchContext,
  sys: Pick<BenchSystem, 'system' | 'root'>,
  o: VariantOptions,
): Promise<Target[]> {
  const variants: Array<{ suffix: string; env: NodeJS.ProcessEnv; root?: string }> = [
    { suffix: NO_ACCESS_LOG, env: { ...NO_SHIPPING, LOG_LEVEL: 'warn' } },
  ];
  const baseline = process.env.BENCH_BASELINE;
  if (baseline) variants.push({ suffix: BASELINE, env: NO_SHIPPING, root: path.resolve(baseline) });
  const sink = await spanSink();
  variants.push({ suffix: OTEL_ON, env: { ...NO_SHIPPING, OTEL_EXPORTER_OTLP_ENDPOINT: sink.url } });
  // The SDK's standard sampler variables: a trace started here is recorded one time in ten (a continued one
  // follows its caller's decision), so what instrumenting costs shows apart from what recording and exporting do.
  variants.push({
    suffix: OTEL_SAMPLED,
    env: {
      ...NO_SHIPPING,
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
    },
  });

  const targets: Target[] = [];
  for (const v of variants) {
    const file = v.suffix.replace(/[^a-z]+/gi, '-').toLowerCase();
    const gw = await spawnService(sys, 'gateway', {
      cpus: o.cpu,
      env: v.env,
      logFile: ctx.log(`${o.logPrefix}-gateway-${file}.log`),
      ...(v.root ? { root: v.root } : {}),
    });
    o.started.push(gw);
    await waitForRoute(gw.url, o.readyPath, o.headers);
    targets.push({
      name: `${o.label}, ${v.suffix}`,
      kind: 'diagnostic',
      url: gw.url,
      headers: o.headers,
      pids: () => [gw.pid],
    });
  }
  return targets;
}

/** What each variant row shows against our gateway's row (`ours`), as report lines. */
export function variantNotes(f: SweepFigures, ours: string, label: string): string[] {
  const out: string[] = [];
  const cpu = (name: string) => f.hopCpu(name);
  /** What `ours` spends beyond the row `name`. */
  const diff = (name: string) => signedMicros(cpu(ours) - cpu(name));
  const has = (suffix: string) => f.targets.some((t) => t.name === `${label}, ${suffix}`);
  if (has(NO_ACCESS_LOG)) {
    const quiet = `${label}, ${NO_ACCESS_LOG}`;
    out.push(
      `The access log (one JSON line per request) costs ${diff(quiet)} of gateway CPU per request ` +
        `(${fixed(cpu(ours))} with it, ${fixed(cpu(quiet))} without; a diagnostic row, in no verdict).`,
    );
  }
  if (has(BASELINE)) {
    const base = `${label}, ${BASELINE}`;
    out.push(
      `Against the gateway built from the baseline checkout (BENCH_BASELINE=${process.env.BENCH_BASELINE}), ours spends ` +
        `${diff(base)} of CPU per request (${fixed(cpu(ours))} against ${fixed(cpu(base))}); the upstream ` +
        `${fixed(f.upstreamCpu(ours))} against ${fixed(f.upstreamCpu(base))} µs.`,
    );
  }
  if (has(OTEL_ON)) {
    const otel = `${label}, ${OTEL_ON}`;
    out.push(
      `The OpenTelemetry SDK on (its http instrumentation, a span per request exported over OTLP/HTTP to a sink) costs ` +
        `${signedMicros(cpu(otel) - cpu(ours))} of gateway CPU per request (${fixed(cpu(otel))} against ${fixed(cpu(ours))} off), ` +
        `${fixed(f.ratioIn(otel, ours), 2)}× the throughput of the same gateway with it off.`,
    );
  }
  if (has(OTEL_SAMPLED)) {
    const sampled = `${label}, ${OTEL_SAMPLED}`;
    out.push(
      `With the SDK's sampler at 10 % (\`OTEL_TRACES_SAMPLER=parentbased_traceidratio\`, \`OTEL_TRACES_SAMPLER_ARG=0.1\`) ` +
        `it costs ${signedMicros(cpu(sampled) - cpu(ours))} per request (${fixed(cpu(sampled))} µs).`,
    );
  }
  return out;
}

/** Takes OTLP exports and drops them (answers 200): the SDK's own work is measured, not a collector's. */
async function spanSink(): Promise<{ url: string }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  server.unref();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
