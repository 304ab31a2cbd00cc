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
  stopProcess,
  type Spawned,
} from './proc';
import type { BenchContext, Section } from './report';
import { fixed, markdownTable, median } from './stats';
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

export async function shipping(ctx: BenchContext): Promise<Section> {
  const warmS = ctx.quick ? 1 : 3;
  const runS = ctx.quick ? 3 : 10;
  const sweeps = ctx.quick ? 2 : 3;
  const cpu = SERVER_CPU();
  const sys = await startBenchSystem({ only: ['distributor', 'member', 'product', 'logging'] });
  const started: Spawned[] = [];
  try {
    for (const info of [...sys.system.instances, ...sys.system.databaseServers]) {
      if (info.pid) for (const pid of processTree(info.pid)) pin(pid, cpu);
    }
    // Our own product and gateway (pinned, shipping on), then the runner's product leaves, so the gateway
    // reaches only ours.
    const product = await spawnService(sys, 'product', { cpus: cpu, logFile: ctx.log('ship-product.log') });
    started.push(product);
    await sys.system.stopInstance('product', 1);
    const gateway = await spawnService(sys, 'gateway', { cpus: cpu, logFile: ctx.log('ship-gateway.log') });
    started.push(gateway);
    const [item] = await listProducts(gateway.url);
    if (!item) throw new Error('no product in the catalogue');
    const url = `${gateway.url}/products/${item.id}`;

    pin(process.pid, LOADGEN_CPU);
    const samples: Sample[] = [];
    for (let sweep = 0; sweep < sweeps; sweep++) {
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
      samples.push(s);
      ctx.print(
        `  sweep ${sweep + 1}/${sweeps} ${fixed(r.rps).padStart(6)} req/s  p99 ${r.p99} ms  ` +
          `gateway ${fixed(s.gatewayUs)} µs/req (main thread ${fixed(s.gatewayMainUs)})  ` +
          `product ${fixed(s.productUs)} µs/req (main thread ${fixed(s.productMainUs)})  errors ${r.errors + r.non2xx}`,
      );
    }
    pin(process.pid, `0-${cores() - 1}`);
    const shipped = await shippedLines(gateway.url);
    const m = (k: keyof Sample) => fixed(median(samples.map((x) => x[k])));
    const rows = [
      [m('rps'), m('p99'), m('gatewayUs'), m('gatewayMainUs'), m('productUs'), m('productMainUs')],
    ];
    const lines = [
      `A gateway and a product instance with shipping on, both pinned to CPU ${cpu} with the rest of the system, \`GET /products/:id\` ` +
        `through the gateway, 50 connections, ${warmS} s warm-up then ${runS} s, ${sweeps} interleaved sweep(s), medians. ` +
        'Log level info: the gateway writes an access line and the product a request line per request. CPU µs/req from /proc: ' +
        'the whole process (every thread), and its main thread alone (the one that serves requests). ' +
        `Load average at the end: ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(' / ')}.`,
      '',
      markdownTable(
        ['req/s', 'p99 ms', 'gateway µs/req', 'gateway main thread', 'product µs/req', 'product main thread'],
        rows,
        ['right', 'right', 'right', 'right', 'right', 'right'],
      ),
      '',
      `- Lines the shipping gateway delivered to the logging service during the run: ${shipped ?? 'unknown'}.`,
    ];
    return { id: 'shipping', title: '6. Log shipping', body: lines.join('\n'), failed: false };
  } finally {
    for (const p of started.reverse()) await stopProcess(p);
    await sys.stop();
  }
}

async function shippedLines(gateway: string): Promise<number | undefined> {
  const a = await call<string>(gateway, 'GET', '/metrics');
  const m = /^log_shipper_shipped_lines_total(?:\{[^}]*\})? (\d+)/m.exec(String(a.data));
  return m ? Number(m[1]) : undefined;
}
