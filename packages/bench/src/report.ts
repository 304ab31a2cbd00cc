// What every part gets (where to write its files, how to print) and gives back (a section of docs/performance.md).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { cores, cpuModel } from './proc';

export interface BenchContext {
  quick: boolean;
  noProfile: boolean;
  print: (line: string) => void;
  /** A file path under this run's work folder. */
  log: (name: string) => string;
  /** A fresh folder under this run's work folder. */
  dir: (name: string) => string;
  versions: Record<string, string>;
}

export interface Section {
  id: string;
  title: string;
  body: string;
  failed: boolean;
}

export function createContext(workDir: string, quick: boolean, noProfile: boolean): BenchContext {
  mkdirSync(workDir, { recursive: true });
  return {
    quick,
    noProfile,
    print: (line) => process.stdout.write(`${line}\n`),
    log: (name) => path.join(workDir, name),
    dir: (name) => {
      const d = path.join(workDir, name);
      mkdirSync(d, { recursive: true });
      return d;
    },
    versions: {},
  };
}

export function renderReport(
  sections: Section[],
  opts: {
    quick: boolean;
    parts: string[];
    startedAt: Date;
    versions: Record<string, string>;
    loadAvg: number[];
  },
): string {
  const versions = Object.entries({ node: process.version, ...opts.versions })
    .map(
      ([k, v]) =>
        `${k} ${
          v
            .replace(/^nginx version: nginx\//, '')
            .replace(/^HAProxy version /, '')
            .split(' ')[0]
        }`,
    )
    .join(', ');
  const header = [
    '# Performance',
    '',
    '> Written by `npm run bench` (packages/bench); do not edit by hand — run it again. ' +
      'How to run it and what each part measures: [benchmarks.md](benchmarks.md).',
    '',
    `- Run: ${opts.startedAt.toISOString().replace('T', ' ').slice(0, 16)} UTC${opts.quick ? ' — **--quick mode: short durations, indicative only**' : ''}`,
    `- Machine: ${cores()} cores, ${cpuModel()}; ${versions}`,
    `- Parts: ${opts.parts.join(', ')}`,
    `- Load average (1 min) at the start and the end of the run: ${opts.loadAvg.map((x) => x.toFixed(1)).join(' and ')} — ` +
      'anything above 0 is other work sharing these cores.',
    '- Absolute figures drift from run to run and with whatever else the machine does; ratios measured in the same sweep are what to compare.',
    '',
  ];
  const body = sections.flatMap((s) => [`## ${s.title}`, '', s.body.trim(), '']);
  return [...header, ...body].join('\n');
}
