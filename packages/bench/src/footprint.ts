// Part 5, footprint: resident memory of every process of the system, idle and at its peak under the journeys.
import { journeys, prepare, runJourneys } from './journeys';
import { processTree, rssBytes, sleep } from './proc';
import type { BenchContext, Section } from './report';
import { markdownTable, megabytes } from './stats';
import { startBenchSystem } from './system';

export async function footprint(ctx: BenchContext): Promise<Section> {
  const sys = await startBenchSystem();
  try {
    const setup = await prepare(sys.gatewayUrl);
    await sleep(ctx.quick ? 1000 : 3000);
    const procs = [...sys.system.instances, ...sys.system.databaseServers]
      .filter((i) => i.pid !== undefined)
      .map((i) => ({ label: i.label, pids: processTree(i.pid!) }));
    const rss = (pids: number[]) => pids.reduce((n, pid) => n + (rssBytes(pid) ?? 0), 0);
    const idle = new Map(procs.map((p) => [p.label, rss(p.pids)]));
    const peak = new Map(procs.map((p) => [p.label, 0]));
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const p of procs) peak.set(p.label, Math.max(peak.get(p.label)!, rss(p.pids)));
        await sleep(200);
      }
    })();
    const durationS = ctx.quick ? 3 : 15;
    const results = await runJourneys(sys.gatewayUrl, journeys(setup), { connections: 20, durationS });
    sampling = false;
    await sampler;
    const total = results.reduce((n, r) => n + r.rps, 0);
    const errors = results.reduce((n, r) => n + r.errors + r.non2xx, 0);
    const rows = procs.map((p) => [p.label, megabytes(idle.get(p.label)), megabytes(peak.get(p.label))]);
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    rows.push(['**all**', megabytes(sum(idle)), megabytes(sum(peak))]);
    const body = [
      'RSS from `/proc/<pid>/status` (a process and its children) of the whole system on embedded defaults: idle after ' +
        `start-up and set-up, then the peak while \`npm run loadgen\`’s journeys ran for ${durationS} s with 20 connections ` +
        `(${total.toFixed(0)} req/s in all, ${errors} errors). \`*-db\` rows are the embedded PGlite servers (one per service with a database).`,
      '',
      markdownTable(['process', 'idle', 'under load (peak)'], rows),
    ];
    return { id: 'footprint', title: '5. Footprint', body: body.join('\n'), failed: errors > 0 };
  } finally {
    await sys.stop();
  }
}
