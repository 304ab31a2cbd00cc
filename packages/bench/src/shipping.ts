// Part 6, log shipping: what shipping every log line to the logging service costs the services that log.
// A gateway and a product instance with shipping on (the gateway's access line and the product's request
// line of every request go to the logging service); CPU per request of the whole process and of its main
// thread (the one that serves requests), from /proc. The hop (part 1) runs with shipping off.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { load } from './cannon';
import { call, listProducts } from './client';
import {
  cpuMicros,
  LOADGEN_CPU,
  pin,
  processTree,
  SERVER_CPU,
  cores,
  freePort,
  stopProcess,
  type Spawned,
} from './proc';
import type { BenchContext, Section } from './report';
import { fixed, markdownTable, median, signedMicros } from './stats';
import { spawnService, startBenchSystem } from './system';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of one thread (the main thread's id is the process id). */
function threadCpuMicros(pid: number, tid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
  } catch {
    return NaN;
  }
}

interface Sample {
  rps: number;
  p99: number;
  gatewayUs: number;
  gatewayMainUs: number;
  productUs: number;
  productMainUs: number;
}

/** One gateway and one product instance of their own, in a system of their own, shipping on or off. */
interface Pair {
  label: string;
  sys: Awaited<ReturnType<typeof startBenchSystem>>;
  gateway: Spawned & { url: string };
  product: Spawned;
  adminUrl: string;
  url: string;
  samples: Sample[];
}

export async function shipping(ctx: BenchContext): Promise<Section> {
  const warmS = ctx.quick ? 1 : 3;
  const runS = ctx.quick ? 3 : 10;
  const sweeps = ctx.quick ? 2 : 3;
  const cpu = SERVER_CPU();
  const systems: Array<Awaited<ReturnType<typeof startBenchSystem>>> = [];
  const started: Spawned[] = [];
  try {
    // Two systems side by side, so each gateway reaches only its own product: one ships its lines to its
    // logging service, the other has shipping off (LOG_SHIPPING=off); the sweeps alternate between them.
    const pairs: Pair[] = [];
    for (const [label, shipping] of [
      ['shipping on', true],
      ['shipping off', false],
    ] as const) {
      const sys = await startBenchSystem({
        only: shipping
          ? ['distributor', 'member', 'product', 'logging']
          : ['distributor', 'member', 'product'],
      });
      systems.push(sys);
      for (const info of [...sys.system.instances, ...sys.system.databaseServers]) {
        if (info.pid) for (const pid of processTree(info.pid)) pin(pid, cpu);
      }
      const env = shipping ? {} : { LOG_SHIPPING: 'off' };
      const tag = shipping ? 'on' : 'off';
      // Our own product and gateway (pinned), then the runner's product leaves, so the gateway reaches only ours.
      const product = await spawnService(sys, 'product', {
        cpus: cpu,
        env,
        logFile: ctx.log(`ship-${tag}-product.log`),
      });
      started.push(product);
      await sys.system.stopInstance('product', 1);
      const adminPort = await freePort();
      const gateway = await spawnService(sys, 'gateway', {
        cpus: cpu,
        env: { ...env, ADMIN_PORT: String(adminPort) },
        logFile: ctx.log(`ship-${tag}-gateway.log`),
      });
      started.push(gateway);
      const [item] = await listProducts(gateway.url);
      if (!item) throw new Error('no product in the catalogue');
      pairs.push({
        label,
        sys,
        gateway,
        product,
        adminUrl: `http://127.0.0.1:${adminPort}`,
        url: `${gateway.url}/products/${item.id}`,
        samples: [],
      });
    }
    const shippedBefore = await shippedLines(pairs[0]!.adminUrl);

    pin(process.pid, LOADGEN_CPU);
    for (let sweep = 0; sweep < sweeps; sweep++) {
      // Alternate which goes first, so neither always runs on the warmer machine.
      for (const pair of sweep % 2 === 0 ? pairs : [...pairs].reverse()) {
        const { gateway, product, url } = pair;
        await load({ url, duration: warmS });
        const g0 = cpuMicros(gateway.pid) ?? NaN;
        const gm0 = threadCpuMicros(gateway.pid, gateway.pid);
        const u0 = cpuMicros(product.pid) ?? NaN;
        const um0 = threadCpuMicros(product.pid, product.pid);
        const r = await load({ url, duration: runS });
        const n = Math.max(1, r.requests);
        const s: Sample = {
          rps: r.rps,
          p99: r.p99,
          gatewayUs: ((cpuMicros(gateway.pid) ?? NaN) - g0) / n,
          gatewayMainUs: (threadCpuMicros(gateway.pid, gateway.pid) - gm0) / n,
          productUs: ((cpuMicros(product.pid) ?? NaN) - u0) / n,
          productMainUs: (threadCpuMicros(product.pid, product.pid) - um0) / n,
        };
        pair.samples.push(s);
        ctx.print(
          `  sweep ${sweep + 1}/${sweeps} ${pair.label.padEnd(12)} ${fixed(r.rps).padStart(6)} req/s  p99 ${r.p99} ms  ` +
            `gateway ${fixed(s.gatewayUs)} µs/req (main thread ${fixed(s.gatewayMainUs)})  ` +
            `product ${fixed(s.productUs)} µs/req (main thread ${fixed(s.productMainUs)})  errors ${r.errors + r.non2xx}`,
        );
      }
    }
    pin(process.pid, `0-${cores() - 1}`);
    const shippedAfter = await shippedLines(pairs[0]!.adminUrl);
    const med = (pair: Pair, k: keyof Sample) => median(pair.samples.map((x) => x[k]));
    const [on, off] = pairs as [Pair, Pair];
    const rows = pairs.map((pair) => [
      pair.label,
      fixed(med(pair, 'rps')),
      fixed(med(pair, 'p99')),
      fixed(med(pair, 'gatewayUs')),
      fixed(med(pair, 'gatewayMainUs')),
      fixed(med(pair, 'productUs')),
      fixed(med(pair, 'productMainUs')),
    ]);
    const delta = (k: keyof Sample) => signedMicros(med(on, k) - med(off, k));
    const lines = [
      `Two systems side by side, each with a gateway and a product instance of its own, all pinned to CPU ${cpu} with the rest ` +
        'of the systems: one ships every log line to its logging service, the other has shipping off (`LOG_SHIPPING=off`). ' +
        `\`GET /products/:id\` through each gateway, 50 connections, ${warmS} s warm-up then ${runS} s, ${sweeps} sweep(s) ` +
        'alternating between the two, medians. Log level info: the gateway writes an access line and the product a request ' +
        'line per request. CPU µs/req from /proc: the whole process (every thread), and its main thread alone (the one that ' +
        `serves requests). Load average at the end: ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(' / ')}.`,
      '',
      markdownTable(
        [
          '',
          'req/s',
          'p99 ms',
          'gateway µs/req',
          'gateway main thread',
          'product µs/req',
          'product main thread',
        ],
        rows,
        ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
      ),
      '',
      `- What shipping costs per request, on minus off: gateway ${delta('gatewayUs')} in all (main thread ${delta('gatewayMainUs')}), ` +
        `product ${delta('productUs')} in all (main thread ${delta('productMainUs')}). The shipping itself (batching, the POSTs, ` +
        'the disk spool when the logging service is away) runs in the pino transport worker thread; the main-thread difference ' +
        'is what the thread that serves requests still pays: handing each line to the worker, and sharing its core with the ' +
        'worker and with the logging service (all pinned to one CPU here).',
      `- Lines the shipping gateway delivered to the logging service during the sweeps: ${
        shippedBefore !== undefined && shippedAfter !== undefined
          ? fixed(shippedAfter - shippedBefore)
          : 'unknown'
      } (its \`log_shipper_shipped_lines_total\`).`,
    ];
    return { id: 'shipping', title: '6. Log shipping', body: lines.join('\n'), failed: false };
  } finally {
    for (const p of started.reverse()) await stopProcess(p);
    for (const sys of systems) await sys.stop();
  }
}

async function shippedLines(adminUrl: string): Promise<number | undefined> {
  const a = await call<string>(adminUrl, 'GET', '/metrics');
  const m = /^log_shipper_shipped_lines_total(?:\{[^}]*\})? (\d+)/m.exec(String(a.data));
  return m ? Number(m[1]) : undefined;
}
