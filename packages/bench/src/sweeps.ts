// The hop's measurement, shared by its two parts (light upstream, product upstream): every target loaded in turn,
// in interleaved sweeps, with the CPU of the proxy and of the upstream per request, then one table of medians.
import { load, type LoadResult } from './cannon';
import { call } from './client';
import { cores, cpuMicrosOf, LOADGEN_CPU, pin } from './proc';
import type { BenchContext } from './report';
import { fixed, markdownTable, median, ratio } from './stats';

export interface Target {
  name: string;
  /** diagnostic: a variant of ours that shows what one piece of its work costs; in no verdict. */
  kind: 'direct' | 'ours' | 'diagnostic' | 'native' | 'node';
  url: string;
  headers: Record<string, string>;
  /** Where the hop's CPU is spent (empty for direct). */
  pids: () => number[];
}

export interface Sample extends LoadResult {
  target: string;
  sweep: number;
  hopCpuUs: number;
  upstreamCpuUs: number;
}

export interface SweepPlan {
  /** The first target is the direct path every ratio is taken against. */
  targets: Target[];
  path: string;
  upstreamPid: number;
  warmS: number;
  runS: number;
  sweeps: number;
}

/** Every path must return the same body as the direct one before anything is measured; its size in bytes. */
export async function sameAnswerEverywhere(targets: Target[], path: string): Promise<number> {
  const [direct, ...others] = targets;
  const expected = await call(direct!.url, 'GET', path, { headers: direct!.headers });
  if (expected.status !== 200) throw new Error(`direct answered ${expected.status}`);
  for (const t of others) {
    const got = await call(t.url, 'GET', path, { headers: t.headers });
    if (got.status !== 200 || JSON.stringify(got.data) !== JSON.stringify(expected.data)) {
      throw new Error(`${t.name} answered ${got.status} ${JSON.stringify(got.data).slice(0, 200)}`);
    }
  }
  return Buffer.byteLength(JSON.stringify(expected.data));
}

export async function runSweeps(ctx: BenchContext, plan: SweepPlan): Promise<Sample[]> {
  const { targets, sweeps } = plan;
  pin(process.pid, LOADGEN_CPU);
  const samples: Sample[] = [];
  try {
    for (let sweep = 0; sweep < sweeps; sweep++) {
      // Interleaved: each sweep starts one place further along, so no target always runs first or last.
      const order = targets.map((_, i) => targets[(i + sweep) % targets.length]!);
      for (const t of order) {
        const url = t.url + plan.path;
        await load({ url, headers: t.headers, duration: plan.warmS });
        const pids = t.pids();
        const cpu0 = cpuMicrosOf(pids);
        const up0 = cpuMicrosOf([plan.upstreamPid]);
        const r = await load({ url, headers: t.headers, duration: plan.runS });
        const served = Math.max(1, r.requests);
        const hopCpuUs = pids.length ? (cpuMicrosOf(pids) - cpu0) / served : NaN;
        const upstreamCpuUs = (cpuMicrosOf([plan.upstreamPid]) - up0) / served;
        samples.push({ ...r, target: t.name, sweep, hopCpuUs, upstreamCpuUs });
        ctx.print(
          `  sweep ${sweep + 1}/${sweeps} ${t.name.padEnd(40)} ${fixed(r.rps).padStart(7)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms` +
            `  hop ${fixed(hopCpuUs)} µs/req  upstream ${fixed(upstreamCpuUs)} µs/req  errors ${r.errors + r.non2xx}`,
        );
      }
    }
  } finally {
    pin(process.pid, `0-${cores() - 1}`);
  }
  return samples;
}

/** Medians over the sweeps, and ratios taken within one sweep. */
export class SweepFigures {
  readonly directName: string;

  constructor(
    readonly targets: Target[],
    private readonly samples: Sample[],
    private readonly sweeps: number,
  ) {
    this.directName = targets[0]!.name;
  }

  of(name: string): Sample[] {
    return this.samples.filter((s) => s.target === name);
  }

  /** Throughput of `name` over `base`'s, per sweep. */
  ratiosIn(name: string, base = this.directName): number[] {
    return Array.from({ length: this.sweeps }, (_, sweep) => {
      const a = this.samples.find((s) => s.target === name && s.sweep === sweep);
      const b = this.samples.find((s) => s.target === base && s.sweep === sweep);
      return a && b ? a.rps / b.rps : NaN;
    });
  }

  ratioIn(name: string, base = this.directName): number {
    return median(this.ratiosIn(name, base).filter(Number.isFinite));
  }

  hopCpu(name: string): number {
    return median(this.of(name).map((s) => s.hopCpuUs));
  }

  upstreamCpu(name: string): number {
    return median(this.of(name).map((s) => s.upstreamCpuUs));
  }

  p99(name: string): number {
    return median(this.of(name).map((s) => s.p99));
  }

  /** The Node peer with the least CPU per request. */
  bestNodePeer(): { name: string; cpu: number } | undefined {
    return this.targets
      .filter((t) => t.kind === 'node')
      .map((t) => ({ name: t.name, cpu: this.hopCpu(t.name) }))
      .sort((a, b) => a.cpu - b.cpu)[0];
  }

  table(): string {
    const rows = this.targets.map((t) => {
      const ss = this.of(t.name);
      const direct = t.kind === 'direct';
      const errors = ss.reduce((n, s) => n + s.errors + s.non2xx, 0);
      return [
        t.name,
        fixed(median(ss.map((s) => s.rps))),
        direct ? '1.00×' : ratio(this.ratioIn(t.name), 1),
        this.sweeps > 1 && !direct
          ? this.ratiosIn(t.name)
              .map((x) => x.toFixed(2))
              .join(' / ')
          : '',
        `${fixed(median(ss.map((s) => s.p50)))} / ${fixed(this.p99(t.name))}`,
        direct ? '—' : fixed(this.hopCpu(t.name)),
        fixed(this.upstreamCpu(t.name)),
        String(errors),
      ];
    });
    return markdownTable(
      [
        'configuration',
        'req/s',
        'vs direct',
        'per sweep',
        'p50 / p99 ms',
        'hop CPU µs/req',
        'upstream CPU µs/req',
        'errors',
      ],
      rows,
    );
  }

  /** One line: every proxy's CPU per request, which other load on the machine sways less than throughput. */
  cpuLine(ours: string): string {
    return (
      `CPU per request of the hop, which other load on the machine sways less than throughput: our gateway ` +
      `${fixed(this.hopCpu(ours))} µs; ${this.targets
        .filter((t) => t.kind === 'node' || t.kind === 'native')
        .map((t) => `${t.name} ${fixed(this.hopCpu(t.name))} µs`)
        .join(', ')}.`
    );
  }
}

/** The run's conditions, the first paragraph of either part. */
export function conditions(plan: SweepPlan, upstream: string, cpu: string): string {
  return (
    `Upstream: ${upstream}. ` +
    `${cores() >= 2 ? `Load generator (autocannon, in the bench process) pinned to CPU ${LOADGEN_CPU}; upstream, proxies and the rest of the system to CPU ${cpu}` : 'One core: nothing pinned'}. ` +
    `50 connections, ${plan.warmS} s warm-up then ${plan.runS} s, ${plan.sweeps} interleaved sweep(s); medians over the sweeps; ` +
    `ratios are to direct in the same sweep. CPU µs/req: utime+stime of the proxy's process(es) (and of the upstream's) from /proc per request.`
  );
}
