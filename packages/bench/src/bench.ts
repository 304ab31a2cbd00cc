#!/usr/bin/env node
// `npm run bench [-- <part>…] [--quick] [--no-profile] [--out <file>]`: runs the benchmarks and writes the report.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { footprint } from './footprint';
import { hop, HOP_TITLE } from './hop';
import { HOP_LIGHT_TITLE, hopLight } from './hop-light';
import { registry } from './registry';
import { revocation } from './revocation';
import { createContext, renderReport, type BenchContext, type Section } from './report';
import { scaleOut } from './scale';
import { shipping } from './shipping';
import { startup } from './startup';
import { REPO_ROOT } from './system';

const PARTS: Record<string, { title: string; run: (ctx: BenchContext) => Promise<Section> }> = {
  'hop-light': { title: HOP_LIGHT_TITLE, run: hopLight },
  hop: { title: HOP_TITLE, run: hop },
  registry: { title: '3. Registry', run: registry },
  scale: { title: '4. Scale-out', run: scaleOut },
  startup: { title: '5. Start-up', run: startup },
  footprint: { title: '6. Footprint', run: footprint },
  revocation: { title: '7. Token revocation', run: revocation },
  shipping: { title: '8. Log shipping', run: shipping },
};

const USAGE = `usage: npm run bench [-- [${Object.keys(PARTS).join('|')}]… [--quick] [--no-profile] [--out <file>]]
  no part named: all of them. --quick: short durations, for development.
  The full run (every part, not --quick) writes docs/performance.md; any other run writes
  packages/bench/results/performance.md unless --out says where.`;

export function parseArgs(argv: string[]): {
  parts: string[];
  quick: boolean;
  noProfile: boolean;
  out?: string;
} {
  const parts: string[] = [];
  let quick = false;
  let noProfile = false;
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--no-profile') noProfile = true;
    else if (a === '--out') out = argv[++i];
    else if (a === '--help' || a === '-h') throw new UsageError(USAGE);
    else if (a in PARTS) parts.push(a);
    else throw new UsageError(`unknown argument: ${a}\n${USAGE}`);
  }
  return { parts: parts.length ? parts : Object.keys(PARTS), quick, noProfile, out };
}

class UsageError extends Error {}

async function main(): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    return err instanceof UsageError && err.message === USAGE ? 0 : 2;
  }
  const full = !args.quick && args.parts.length === Object.keys(PARTS).length;
  const out =
    args.out ??
    (full
      ? path.join(REPO_ROOT, 'docs', 'performance.md')
      : path.join(__dirname, '..', 'results', 'performance.md'));
  const work = mkdtempSync(path.join(os.tmpdir(), 'msa-bench-work-'));
  const ctx = createContext(work, args.quick, args.noProfile);
  const startedAt = new Date();
  const loadAtStart = os.loadavg()[0]!;
  const sections: Section[] = [];
  let failed = false;
  for (const id of args.parts) {
    const part = PARTS[id]!;
    ctx.print(`▶ ${part.title}${args.quick ? ' (quick)' : ''}`);
    const t0 = performance.now();
    try {
      const section = await part.run(ctx);
      sections.push(section);
      failed ||= section.failed;
      ctx.print(`${section.body}\n`);
    } catch (err) {
      failed = true;
      const message = (err as Error).stack ?? String(err);
      ctx.print(`✖ ${part.title} failed: ${message}`);
      sections.push({
        id,
        title: part.title,
        body: `Not measured: this part failed (${(err as Error).message}).`,
        failed: true,
      });
    }
    ctx.print(`  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  const doc = renderReport(sections, {
    quick: args.quick,
    parts: args.parts,
    startedAt,
    versions: ctx.versions,
    loadAvg: [loadAtStart, os.loadavg()[0]!],
  });
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, doc);
  ctx.print(`Report written to ${path.relative(process.cwd(), out) || out}`);
  if (failed) ctx.print(`Work files (logs, configs, profiles) kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
  return failed ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
