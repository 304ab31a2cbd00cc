// Part 3, scale-out: the purchase journey with 1, 2 and 3 purchase instances behind the gateway.
import { buyJourney, prepare, runJourneys } from './journeys';
import { cores, sleep } from './proc';
import type { BenchContext, Section } from './report';
import { fixed, markdownTable } from './stats';
import { startBenchSystem } from './system';

export async function scaleOut(ctx: BenchContext): Promise<Section> {
  const durationS = ctx.quick ? 3 : 10;
  const connections = 30;
  // Started with 3 purchase instances and 2 of them stopped at once: the embedded database of a service is sized for
  // the instances planned at start (addInstance() beyond that was refused a connection here).
  const sys = await startBenchSystem({ scale: { purchase: 3 } });
  const rows: string[][] = [];
  let base1 = NaN;
  const ratios: number[] = [];
  let errors = 0;
  try {
    await sys.system.stopInstance('purchase', 3);
    await sys.system.stopInstance('purchase', 2);
    const setup = await prepare(sys.gatewayUrl, 10);
    const journey = [{ name: 'buy', weight: 1, describe: '', requests: buyJourney(setup) }];
    for (let n = 1; n <= 3; n++) {
      if (n > 1) {
        await sys.system.restart('purchase', n);
        await sleep(500); // the gateway hears of it within tens of ms (part 2)
      }
      await runJourneys(sys.gatewayUrl, journey, { connections, durationS: 1 }); // warm-up
      const [r] = await runJourneys(sys.gatewayUrl, journey, { connections, durationS });
      if (n === 1) base1 = r!.rps;
      ratios.push(r!.rps / base1);
      errors += r!.errors + r!.non2xx;
      rows.push([
        String(n),
        fixed(r!.journeysPerSecond, 1),
        fixed(r!.rps, 1),
        `${(r!.rps / base1).toFixed(2)}×`,
        `${r!.p50} / ${r!.p99}`,
        String(r!.errors + r!.non2xx),
      ]);
      ctx.print(`  purchase×${n}: ${r!.journeysPerSecond.toFixed(1)} journeys/s, p99 ${r!.p99} ms`);
    }
  } finally {
    await sys.stop();
  }
  const dataTier = process.env.DATABASE_URL
    ? 'Postgres at DATABASE_URL'
    : 'embedded PGlite (one engine per service; it serializes transactions)';
  const body = [
    `The buy journey (view the product, buy one with an Idempotency-Key, list my purchases; 10 members) with ${connections} ` +
      `connections for ${durationS} s, through the gateway, with 1, 2 and 3 purchase instances; data tier: ${dataTier}.`,
    '',
    markdownTable(['purchase instances', 'journeys/s', 'req/s', 'vs 1', 'p50 / p99 ms', 'errors'], rows),
    '',
    `**This machine has ${cores()} cores**, shared by the load generator, the gateway, member, product, purchase, the ` +
      'distributor and the databases. ' +
      (cores() <= 2
        ? `On 2 cores this cannot show scale-out. What a second instance gained here (${ratios[1]?.toFixed(2)}×) is ` +
          'one purchase event loop no longer being the bottleneck while the other core still had idle time (a journey ' +
          `also waits on the gateway, product and the database); the third (${ratios[2]?.toFixed(2)}×) finds no core ` +
          'free, so from there every replica is overhead. Real scale-out needs cores or machines to spare, and a ' +
          'database that is not the bottleneck.'
        : 'With cores to spare, each instance can run on its own.'),
  ];
  return { id: 'scale', title: '4. Scale-out', body: body.join('\n'), failed: errors > 0 };
}
