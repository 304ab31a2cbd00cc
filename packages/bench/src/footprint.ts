// Part 5, footprint: resident memory of the whole `npm start` process tree on the embedded defaults, idle 20 s after
// "System ready" and at its peak under the load generator's journeys; the time to "System ready" (new data folder,
// then again on the kept data); all against the embedded databases as they were (a process each, PGlite's stock
// Postgres settings), started the same way in the same run.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { journeys, prepare, runJourneys } from './journeys';
import { freePort, processTree, rssBytes, sleep } from './proc';
import type { BenchContext, Section } from './report';
import { fixed, markdownTable, median, megabytes, ratio } from './stats';
import { BENCH_RATE_LIMIT, REPO_ROOT } from './system';

/** What the two configurations set; the runner reads these variables (packages/runner/README.md). */
export const CONFIGS = [
  {
    id: 'before',
    title: 'a process per database, stock settings',
    env: { EMBEDDED_DB_PROCESSES: 'per-service', EMBEDDED_DB_SETTINGS: 'stock' },
  },
  {
    id: 'lean',
    title: 'a process per database, lean settings',
    env: { EMBEDDED_DB_PROCESSES: 'per-service' },
  },
  { id: 'now', title: 'default (one database process, lean settings)', env: {} },
] as const;

const TARGET_BYTES = 1.2 * 1024 ** 3;
const MOONSHOT_BYTES = 800 * 1024 ** 2;

interface Sample {
  /** process label → bytes */
  idle: Map<string, number>;
  peak: Map<string, number>;
  /** Proportional set size of the whole tree: pages shared between processes (Node's code) counted once. */
  idlePss: number;
  freshReadyS: number;
  keptReadyS: number;
  rps: number;
  errors: number;
}

export async function footprint(ctx: BenchContext): Promise<Section> {
  const rounds = ctx.quick ? 1 : 2;
  const idleS = ctx.quick ? 5 : 20;
  const durationS = ctx.quick ? 5 : 15;
  const samples = new Map<string, Sample[]>(CONFIGS.map((c) => [c.id, []]));
  // Interleaved, so that a change in the machine's other load falls on both alike.
  for (let round = 0; round < rounds; round++) {
    for (const config of CONFIGS) {
      ctx.print(`  ${config.title}, round ${round + 1} of ${rounds}…`);
      samples.get(config.id)!.push(await measure(ctx, config.env, idleS, durationS));
    }
  }
  return report(samples, { rounds, idleS, durationS });
}

async function measure(
  ctx: BenchContext,
  configEnv: Record<string, string>,
  idleS: number,
  durationS: number,
): Promise<Sample> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'msa-bench-footprint-'));
  symlinkSync(path.join(REPO_ROOT, 'services'), path.join(root, 'services'));
  mkdirSync(path.join(root, '.data'));
  try {
    const first = await startLikeNpmStart(ctx, root, configEnv);
    let sample: Sample;
    try {
      await sleep(idleS * 1000);
      const pids = processTree(first.pid);
      const idle = byLabel(pids, rssBytes);
      const idlePss = pids.reduce((n, pid) => n + (pssBytes(pid) ?? 0), 0);
      const setup = await prepare(first.gatewayUrl);
      const peak = new Map(idle);
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          for (const [label, bytes] of byLabel(processTree(first.pid), rssBytes))
            peak.set(label, Math.max(peak.get(label) ?? 0, bytes));
          await sleep(200);
        }
      })();
      const results = await runJourneys(first.gatewayUrl, journeys(setup), { connections: 20, durationS });
      sampling = false;
      await sampler;
      sample = {
        idle,
        peak,
        idlePss,
        freshReadyS: first.readyS,
        keptReadyS: NaN,
        rps: results.reduce((n, r) => n + r.rps, 0),
        errors: results.reduce((n, r) => n + r.errors + r.non2xx, 0),
      };
    } finally {
      await first.stop();
    }
    const again = await startLikeNpmStart(ctx, root, configEnv);
    await again.stop();
    sample.keptReadyS = again.readyS;
    return sample;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

interface Started {
  pid: number;
  gatewayUrl: string;
  /** From the runner's "Starting …" line to "System ready" (the build before it is turbo's, cached here). */
  readyS: number;
  stop(): Promise<void>;
}

/** `npm start -- --root <root>` (scripts/start.mjs), on the embedded defaults, with free ports. */
async function startLikeNpmStart(
  ctx: BenchContext,
  root: string,
  configEnv: Record<string, string>,
): Promise<Started> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DISTRIBUTOR_PORT: String(await freePort()),
    GATEWAY_HTTP_PORT: String(await freePort()),
    GATEWAY_HTTPS_PORT: String(await freePort()),
    GATEWAY_ADMIN_PORT: String(await freePort()),
    RATE_LIMIT_POINTS: BENCH_RATE_LIMIT,
    ...configEnv,
  };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts', 'start.mjs'), '--root', root], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid!;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  let startingAt: number | undefined;
  const ready = new Promise<{ gatewayUrl: string; readyS: number }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not ready within 180 s:\n${output.slice(-2000)}`)),
      180_000,
    );
    const onData = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-20_000);
      if (startingAt === undefined && /Starting \d+ instance/.test(output)) startingAt = performance.now();
      const m = /System ready.*Gateway: (http:\/\/\S+)/.exec(output);
      if (m && startingAt !== undefined) {
        clearTimeout(timer);
        resolve({ gatewayUrl: m[1]!, readyS: (performance.now() - startingAt) / 1000 });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`npm start exited before it was ready:\n${output.slice(-2000)}`));
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const pids = processTree(pid);
      child.kill('SIGINT');
      const killed = await Promise.race([exited.then(() => false), sleep(30_000).then(() => true)]);
      if (killed) {
        ctx.print('  npm start did not stop within 30 s: killing its processes');
        for (const p of pids) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            // gone
          }
        }
        await exited;
      }
    })());
  try {
    return { pid, ...(await ready), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Resident bytes per process, summed over processes of one label (a service's instances, passing children). */
function byLabel(pids: number[], read: (pid: number) => number | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of pids) {
    const bytes = read(pid);
    if (bytes === undefined) continue;
    const label = processLabel(cmdline(pid));
    out.set(label, (out.get(label) ?? 0) + bytes);
  }
  return out;
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** How a process of the tree is named in the table, from its command line. */
export function processLabel(argv: string[]): string {
  const script = argv.find((arg) => /\.(m?js)$/.test(arg)) ?? '';
  if (script.endsWith(path.join('scripts', 'start.mjs'))) return 'npm start (start script and runner)';
  if (script.endsWith('pglite-server.js')) {
    const name = argv[argv.indexOf('--name') + 1];
    return argv.includes('--init-only') ? 'initdb (short-lived)' : `${name ?? 'database'} (PGlite)`;
  }
  const service = /services[/\\]([^/\\]+)[/\\]dist[/\\]main\.js$/.exec(script);
  if (service) return service[1]!;
  return path.basename(argv[0] ?? 'other');
}

/** Proportional set size (smaps_rollup): a page shared by n processes counts 1/n in each. */
function pssBytes(pid: number): number | undefined {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function report(
  samples: Map<string, Sample[]>,
  opts: { rounds: number; idleS: number; durationS: number },
): Section {
  const med = (id: string, f: (s: Sample) => number): number => median(samples.get(id)!.map(f));
  const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
  const labels = [...new Set(CONFIGS.flatMap((c) => samples.get(c.id)!.flatMap((s) => [...s.idle.keys()])))];
  const order = (label: string): number =>
    label.startsWith('npm start') ? 0 : label.includes('PGlite') ? 2 : label.startsWith('initdb') ? 3 : 1;
  labels.sort((a, b) => order(a) - order(b) || a.localeCompare(b));
  const cell = (id: string, label: string, which: 'idle' | 'peak'): string => {
    const values = samples.get(id)!.map((s) => s[which].get(label));
    return values.every((v) => v === undefined) ? '—' : megabytes(median(values.map((v) => v ?? 0)));
  };
  const rows = labels.map((label) => [
    label,
    cell('now', label, 'idle'),
    cell('now', label, 'peak'),
    cell('before', label, 'idle'),
    cell('before', label, 'peak'),
  ]);
  const idleLean = med('lean', (s) => total(s.idle));
  const rpsLean = med('lean', (s) => s.rps);
  const idleNow = med('now', (s) => total(s.idle));
  const idleBefore = med('before', (s) => total(s.idle));
  const peakNow = med('now', (s) => total(s.peak));
  const peakBefore = med('before', (s) => total(s.peak));
  rows.push([
    '**all (RSS)**',
    `**${megabytes(idleNow)}**`,
    megabytes(peakNow),
    `**${megabytes(idleBefore)}**`,
    megabytes(peakBefore),
  ]);
  rows.push([
    'all, shared pages counted once (PSS)',
    megabytes(med('now', (s) => s.idlePss)),
    '',
    megabytes(med('before', (s) => s.idlePss)),
    '',
  ]);
  const rpsNow = med('now', (s) => s.rps);
  const rpsBefore = med('before', (s) => s.rps);
  const errors = [...samples.values()].flat().reduce((n, s) => n + s.errors, 0);
  const verdict = (bytes: number, limit: number): string => (bytes <= limit ? 'met' : 'MISSED');
  const seconds = (id: string, f: (s: Sample) => number): string => `${fixed(med(id, f), 1)} s`;
  const body = [
    `\`npm start\` (scripts/start.mjs, the build cached) on the embedded defaults in a private root, one instance per ` +
      `service. RSS from \`/proc/<pid>/status\`, summed over the whole process tree and grouped by process: idle ` +
      `${opts.idleS} s after "System ready", then the peak (sampled every 200 ms) while \`npm run loadgen\`'s journeys ` +
      `ran for ${opts.durationS} s with 20 connections. "Before" starts the embedded databases as they were (one ` +
      `process per database, PGlite's stock Postgres settings, \`EMBEDDED_DB_PROCESSES=per-service ` +
      `EMBEDDED_DB_SETTINGS=stock\`); both start the runner inside the start script and run initdb in a short-lived ` +
      `process, which the runner did not before issue 17. Medians of ${opts.rounds} interleaved round(s).`,
    '',
    markdownTable(
      ['process', 'idle', 'under load (peak)', 'before: idle', 'before: under load (peak)'],
      rows,
    ),
    '',
    `- Idle total: ${megabytes(idleNow)} against ${megabytes(idleBefore)} before (${ratio(idleNow, idleBefore)}); ` +
      `target ≤ 1.2 GB ${verdict(idleNow, TARGET_BYTES)}, moonshot ≤ 800 MB ${verdict(idleNow, MOONSHOT_BYTES)}.`,
    `- Throughput under the journeys: ${fixed(rpsNow)} req/s against ${fixed(rpsBefore)} before ` +
      `(${ratio(rpsNow, rpsBefore)}); ${errors} errors in all.`,
    `- The two changes apart, a process per database with the lean settings (\`EMBEDDED_DB_PROCESSES=per-service\`): ` +
      `${megabytes(idleLean)} idle (${ratio(idleLean, idleBefore)} of before), ${fixed(rpsLean)} req/s ` +
      `(${ratio(rpsLean, rpsBefore)}).`,
    `- "Starting …" to "System ready": ${seconds('now', (s) => s.freshReadyS)} on a new data folder and ` +
      `${seconds('now', (s) => s.keptReadyS)} on the kept one, against ${seconds('before', (s) => s.freshReadyS)} and ` +
      `${seconds('before', (s) => s.keptReadyS)} before.`,
  ];
  return {
    id: 'footprint',
    title: '6. Footprint',
    body: body.join('\n'),
    failed: errors > 0 || idleNow > TARGET_BYTES,
  };
}
