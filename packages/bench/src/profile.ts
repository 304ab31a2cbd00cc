// Summarizes a V8 .cpuprofile (node --cpu-prof): self time per function and per area of code.
import { fixed, markdownTable } from './stats';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface CpuProfile {
  nodes: ProfileNode[];
  /** Monotonic clock, µs: the same clock as process.hrtime() in any process of this machine. */
  startTime?: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  name: string;
  area: string;
  micros: number;
}

/**
 * Self time per function (µs), busiest first; idle time left out; only samples taken in [fromUs, toUs) on the
 * monotonic clock (`process.hrtime`), so a caller can keep just the measured run.
 */
export function selfTimes(profile: CpuProfile, fromUs = 0, toUs = Infinity): SelfTime[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const micros = new Map<number, number>();
  const { samples = [], timeDeltas = [] } = profile;
  let at = profile.startTime ?? 0;
  for (let i = 0; i < samples.length; i++) {
    at += timeDeltas[i] ?? 0;
    if (at < fromUs || at >= toUs) continue;
    // timeDeltas[i] is the time before sample i; attributing it to sample i is what Chrome's DevTools does.
    micros.set(samples[i]!, (micros.get(samples[i]!) ?? 0) + Math.max(0, timeDeltas[i] ?? 0));
  }
  const out = new Map<string, SelfTime>();
  for (const [id, us] of micros) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    const file = url.replace(/^file:\/\//, '');
    const short = file
      ? `${file.split('/node_modules/').pop()!.split('/').slice(-2).join('/')}:${lineNumber + 1}`
      : '';
    const name = `${functionName || '(anonymous)'}${short ? ` ${short}` : ''}`;
    const entry = out.get(name) ?? { name, area: areaOf(functionName, file), micros: 0 };
    entry.micros += us;
    out.set(name, entry);
  }
  return [...out.values()].sort((a, b) => b.micros - a.micros);
}

export function areaOf(functionName: string, file: string): string {
  if (!file) return functionName.startsWith('(') ? functionName : 'native (V8/libuv)';
  if (file.startsWith('node:')) {
    const mod = file.slice(5).split('/');
    return `node:${mod[0] === 'internal' ? mod.slice(1, 3).join('/') : mod[0]}`;
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg) return pkg[1]!;
  const svc = /(services|packages)\/([^/]+)\//.exec(file);
  return svc ? `${svc[1]}/${svc[2]}` : file;
}

const BUCKETS: [string, (s: SelfTime) => boolean][] = [
  [
    'access log (pino, sonic-boom, file writes)',
    (s) => /^(pino|sonic-boom|thread-stream)/.test(s.area) || s.name.startsWith('writeString'),
  ],
  ['metrics (prom-client)', (s) => s.area === 'prom-client'],
  ['rate limiter', (s) => s.area === 'rate-limiter-flexible'],
  ['token caches (lru-cache, jose)', (s) => s.area === 'lru-cache' || s.area === 'jose'],
  [
    'gateway and kit code',
    (s) => /^(services|packages)\//.test(s.area) || s.area.startsWith('@msa/') || s.area === 'find-my-way',
  ],
  ['garbage collection', (s) => s.area === '(garbage collector)'],
  [
    "Node's HTTP, streams, sockets, event loop",
    (s) =>
      /^node:(_http|http|streams|net|events|process|async_hooks|timers|buffer|stream)/.test(s.area) ||
      s.area === 'native (V8/libuv)' ||
      s.area === '(program)',
  ],
];

/** Shares of busy time by what the work is for (first matching bucket; the rest is "other"). */
export function buckets(all: SelfTime[]): [string, number][] {
  const total = all.reduce((n, s) => n + s.micros, 0) || 1;
  const sums = new Map<string, number>();
  for (const s of all) {
    const name = BUCKETS.find(([, test]) => test(s))?.[0] ?? 'other';
    sums.set(name, (sums.get(name) ?? 0) + s.micros);
  }
  return [...sums.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / total]);
}

/** Markdown lines: the top functions by self time and the share per area. */
export function summarizeProfile(profile: CpuProfile, top = 15, fromUs = 0, toUs = Infinity): string[] {
  const all = selfTimes(profile, fromUs, toUs);
  const total = all.reduce((n, s) => n + s.micros, 0) || 1;
  const pct = (us: number) => `${fixed((us / total) * 100, 1)} %`;
  const areas = new Map<string, number>();
  for (const s of all) areas.set(s.area, (areas.get(s.area) ?? 0) + s.micros);
  const areaRows = [...areas.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
    .map(([a, us]) => [a, pct(us)]);
  const shares = buckets(all)
    .map(([k, v]) => `${k} ${fixed(v * 100)} %`)
    .join(' · ');
  return [
    `Busy time by purpose: ${shares}.`,
    '',
    `CPU profile of the gateway under the member-token load (\`node --cpu-prof\`), the measured run only, busy time (${fixed(total / 1000)} ms sampled):`,
    '',
    markdownTable(['area', 'self time'], areaRows),
    '',
    markdownTable(
      ['function (top self time)', 'area', 'self time'],
      all.slice(0, top).map((s) => [`\`${s.name}\``, s.area, pct(s.micros)]),
    ),
  ];
}
