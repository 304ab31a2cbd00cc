#!/usr/bin/env node
// `npm run loadgen [-- --url <gateway>] [--duration <s>] [--connections <n>] [--only <journey,…>]`:
// drives weighted user journeys through the gateway for a bounded time and prints, per journey, throughput,
// latency percentiles and errors. Exits 1 when any request failed, so a short run is a CI smoke check.
import { journeys, prepare, runJourneys, type JourneyResult } from './journeys';
import { fixed, markdownTable } from './stats';
import { startBenchSystem, type BenchSystem } from './system';

export interface LoadgenArgs {
  url?: string;
  durationS: number;
  connections: number;
  only?: string[];
}

const USAGE = `usage: npm run loadgen -- [--url <gateway url>] [--duration <seconds>] [--connections <n>] [--only browse,view,account,buy]
  without --url it starts the system itself (startSystem, embedded defaults or DATABASE_URL/REDIS_URL), and stops it after.
  Exit status 1 when any request failed (connection error, timeout or a non-2xx answer).`;

export function parseLoadgenArgs(argv: string[]): LoadgenArgs {
  const args: LoadgenArgs = { durationS: 20, connections: 20 };
  const value = (i: number, name: string): string => {
    const v = argv[i];
    if (v === undefined) throw new Error(`${name} needs a value\n${USAGE}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--url') args.url = value(++i, a).replace(/\/+$/, '');
    else if (a === '--duration') args.durationS = positive(value(++i, a), a);
    else if (a === '--connections') args.connections = positive(value(++i, a), a);
    else if (a === '--only') args.only = value(++i, a).split(',');
    else if (a === '--help' || a === '-h') throw new Error(USAGE);
    else throw new Error(`unknown argument: ${a}\n${USAGE}`);
  }
  return args;
}

function positive(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) throw new Error(`${name} must be a number of 1 to 3600`);
  return n;
}

export function formatResults(results: JourneyResult[]): string {
  const rows = results.map((r) => [
    r.journey,
    String(r.connections),
    fixed(r.rps, 1),
    fixed(r.journeysPerSecond, 1),
    String(r.p50),
    String(r.p90),
    String(r.p99),
    String(r.errors + r.non2xx),
    describeFailures(r),
  ]);
  const total = results.reduce(
    (t, r) => ({
      rps: t.rps + r.rps,
      errors: t.errors + r.errors + r.non2xx,
      conns: t.conns + r.connections,
    }),
    { rps: 0, errors: 0, conns: 0 },
  );
  rows.push(['all', String(total.conns), fixed(total.rps, 1), '', '', '', '', String(total.errors), '']);
  return markdownTable(
    ['journey', 'conns', 'req/s', 'journeys/s', 'p50 ms', 'p90 ms', 'p99 ms', 'errors', 'failures'],
    rows,
  );
}

function describeFailures(r: JourneyResult): string {
  const parts = Object.entries(r.statuses)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, n]) => `${n}× ${code}`);
  if (r.errors > 0) parts.push(`${r.errors}× connection error/timeout`);
  return parts.join(', ');
}

async function main(): Promise<number> {
  let args: LoadgenArgs;
  try {
    args = parseLoadgenArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    return (err as Error).message === USAGE ? 0 : 2;
  }
  let sys: BenchSystem | undefined;
  const stop = () => void sys?.stop().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    let base = args.url;
    if (base === undefined) {
      console.log('Starting the system (startSystem)…');
      sys = await startBenchSystem();
      base = sys.gatewayUrl;
    }
    console.log(`Target: ${base}. Setting up (products, a deep-stock product, members)…`);
    const setup = await prepare(base);
    if (setup.warning) console.log(`warning: ${setup.warning}`);
    const list = journeys(setup).filter((j) => !args.only || args.only.includes(j.name));
    if (list.length === 0) throw new Error(`no journey named ${args.only?.join(', ')}`);
    console.log(
      `Running ${list.map((j) => `${j.name} (${j.weight})`).join(', ')} with ${args.connections} connections for ${args.durationS} s…`,
    );
    const results = await runJourneys(base, list, {
      connections: args.connections,
      durationS: args.durationS,
    });
    console.log('');
    console.log(formatResults(results));
    const errors = results.reduce((n, r) => n + r.errors + r.non2xx, 0);
    console.log('');
    console.log(errors === 0 ? '✔ no errors' : `✖ ${errors} failed request(s)`);
    return errors === 0 ? 0 : 1;
  } finally {
    await sys?.stop();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`✖ ${(err as Error).message ?? err}`);
      process.exit(1);
    },
  );
}
