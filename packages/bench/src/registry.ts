// Part 2, the registry: registration → first routed request, kill -9 → removal, and a distributor under 1,000
// heartbeating instances (its CPU and memory, and how fast a watcher hears of a change).
import { randomUUID } from 'node:crypto';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InternalTokens, SseParser } from '@msa/service-kit';
import { call } from './client';
import { cpuMicros, rssBytes, sleep, stopProcess } from './proc';
import type { BenchContext, Section } from './report';
import { fixed, markdownTable, median, megabytes, percentile } from './stats';
import { spawnService, startBenchSystem, type BenchSystem } from './system';

type Headers = Record<string, string>;

export async function registry(ctx: BenchContext): Promise<Section> {
  const sys = await startBenchSystem({ only: ['distributor', 'gateway', 'member'] });
  const secret = sys.system.internalTokenSecret;
  const token = await new InternalTokens('bench', secret, 3600).sign();
  const auth = { 'x-internal-token': token };
  const parts: string[] = [];
  let failed = false;
  try {
    const reg = await registrationToRoute(ctx, sys, auth, ctx.quick ? 10 : 50);
    const okReg = reg.median <= 50 && reg.max <= 200;
    failed ||= !okReg;
    parts.push(
      `**Registration → first routed request** (${reg.samples.length} trials): a fake instance of a new service registers ` +
        'one public route at the distributor (`PUT /registry/instances/:id`); the clock starts before the PUT is sent and ' +
        'stops when the instance receives its first request through the gateway, which the bench sends back to back ' +
        'until one is routed.',
      '',
      markdownTable(
        ['median', 'p90', 'max', 'target'],
        [
          [
            `${fixed(reg.median, 1)} ms`,
            `${fixed(reg.p90, 1)} ms`,
            `${fixed(reg.max, 1)} ms`,
            `≤ 50 ms median, ≤ 200 ms max: ${okReg ? 'met' : 'MISSED'}`,
          ],
        ],
      ),
      '',
    );
    const kill = await killToRemoval(ctx, sys, auth, ctx.quick ? 1 : 3);
    parts.push(
      `**kill -9 → removal** (${kill.length} trial(s)): an extra member instance (own process) is killed with SIGKILL; ` +
        'the distributor removes it when its lease runs out (lease 5 s, heartbeats every lease/3), sending `down` on the watch; ' +
        'then the gateway’s live table drops it.',
      '',
      markdownTable(
        ['trial', '`down` on the watch', 'gone from the gateway’s table', 'reason'],
        kill.map((k, i) => [String(i + 1), `${fixed(k.downMs)} ms`, `${fixed(k.gatewayMs)} ms`, k.reason]),
      ),
      '',
      'A killed instance costs no failed idempotent request meanwhile: the gateway retries a GET on a connection failure ' +
        'elsewhere and ejects the instance after 3 failures (services/gateway, covered by its tests).',
      '',
    );
    const big = await thousandInstances(ctx, sys, ctx.quick ? 3 : 10);
    parts.push(
      `**Distributor with ${big.instances} instances heartbeating** (every ${fixed(big.heartbeatMs)} ms each, with stats; ` +
        `${fixed(big.heartbeatsPerS)} heartbeats/s; its own process, watched by one SSE client and the bench): measured over ${big.seconds} s.`,
      '',
      markdownTable(
        ['', 'value'],
        [
          [
            'distributor CPU',
            `${fixed(big.cpuPercent, 1)} % of one core (${fixed(big.cpuUsPerHeartbeat)} µs per heartbeat)`,
          ],
          [
            'distributor memory (RSS) empty → 1,000 instances',
            `${megabytes(big.rssIdle)} → ${megabytes(big.rssLoaded)}`,
          ],
          ['registration of 1,000 instances', `${fixed(big.registerMs)} ms`],
          [
            `watch-update latency (${big.watch.length} new registrations, PUT sent → \`up\` received)`,
            `median ${fixed(median(big.watch), 1)} ms, p90 ${fixed(percentile(big.watch, 90), 1)} ms, max ${fixed(Math.max(...big.watch), 1)} ms`,
          ],
          ['heartbeat errors / lease expiries (registered again)', `${big.errors} / ${big.reRegistrations}`],
        ],
      ),
    );
    return { id: 'registry', title: '3. Registry', body: parts.join('\n'), failed };
  } finally {
    await sys.stop();
  }
}

function fakeUpstream(onRequest: (path: string) => void): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    onRequest(req.url ?? '/');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

function registration(service: string, instanceId: string, address: string, routes: string[]) {
  return {
    service,
    instanceId,
    address,
    version: '0.0.0',
    routes: routes.map((path) => ({ method: 'GET', path, public: true, auth: 'none' })),
  };
}

async function registrationToRoute(ctx: BenchContext, sys: BenchSystem, auth: Headers, trials: number) {
  const seen = new Map<string, number>();
  const { server, url } = await fakeUpstream((path) => {
    if (!seen.has(path)) seen.set(path, performance.now());
  });
  const distributor = sys.system.distributorUrl!;
  const samples: number[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      const service = `bench-probe-${i}`;
      const path = `/bench-probe-${i}/ping`;
      const id = `${service}-${randomUUID().slice(0, 8)}`;
      const t0 = performance.now();
      const put = await call(distributor, 'PUT', `/registry/instances/${id}`, {
        headers: auth,
        body: registration(service, id, url, [path]),
      });
      if (put.status !== 200) throw new Error(`registration answered ${put.status}`);
      const deadline = t0 + 5000;
      while (!seen.has(path)) {
        if (performance.now() > deadline) throw new Error(`${path} was not routed within 5 s`);
        await call(sys.gatewayUrl, 'GET', path).catch(() => undefined);
      }
      samples.push(seen.get(path)! - t0);
      await call(distributor, 'DELETE', `/registry/instances/${id}`, { headers: auth });
      await sleep(20);
    }
  } finally {
    server.close();
    server.closeAllConnections();
  }
  ctx.print(`  registration → routed: ${samples.map((s) => s.toFixed(1)).join(' ')} ms`);
  return { samples, median: median(samples), p90: percentile(samples, 90), max: Math.max(...samples) };
}

/** A watch on the registry: calls back per event, with the time it arrived. */
async function watch(
  distributor: string,
  auth: Headers,
  onEvent: (event: string, data: string, at: number) => void,
) {
  const abort = new AbortController();
  const res = await fetch(`${distributor}/registry/watch`, { headers: auth, signal: abort.signal });
  if (!res.ok || !res.body) throw new Error(`watch answered ${res.status}`);
  const parser = new SseParser((ev) => onEvent(ev.event, ev.data, performance.now()));
  const decoder = new TextDecoder();
  const reading = (async () => {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        parser.push(decoder.decode(chunk, { stream: true }));
      }
    } catch {
      // aborted
    }
  })();
  return {
    close: async () => {
      abort.abort();
      await reading;
    },
  };
}

async function killToRemoval(ctx: BenchContext, sys: BenchSystem, auth: Headers, trials: number) {
  const distributor = sys.system.distributorUrl!;
  const out: { downMs: number; gatewayMs: number; reason: string }[] = [];
  for (let i = 0; i < trials; i++) {
    const member = await spawnService(sys, 'member', { logFile: ctx.log(`registry-member-${i}.log`) });
    try {
      const list = await call<{ instances: { instanceId: string; address: string }[] }>(
        distributor,
        'GET',
        '/registry/services/member',
        { headers: auth },
      );
      const mine = list.data.instances.find((x) => x.address === member.url);
      if (!mine) throw new Error('the extra member instance is not registered');
      let down: { at: number; reason: string } | undefined;
      const w = await watch(distributor, auth, (event, data, at) => {
        if (event !== 'down') return;
        const d = JSON.parse(data) as { instanceId: string; reason: string };
        if (d.instanceId === mine.instanceId) down = { at, reason: d.reason };
      });
      const t0 = performance.now();
      member.child.kill('SIGKILL');
      let gatewayAt: number | undefined;
      const deadline = t0 + 20_000;
      while ((down === undefined || gatewayAt === undefined) && performance.now() < deadline) {
        if (gatewayAt === undefined) {
          const routes = await call<{ routes: { instances: { instanceId: string }[] }[] }>(
            sys.gatewayAdminUrl,
            'GET',
            '/internal/routes',
            { headers: auth },
          );
          const present = routes.data.routes?.some((r) =>
            r.instances.some((x) => x.instanceId === mine.instanceId),
          );
          if (routes.status === 200 && !present) gatewayAt = performance.now();
        }
        await sleep(10);
      }
      await w.close();
      out.push({
        downMs: down ? down.at - t0 : NaN,
        gatewayMs: gatewayAt !== undefined ? gatewayAt - t0 : NaN,
        reason: down?.reason ?? 'no down event within 20 s',
      });
    } finally {
      await stopProcess(member);
    }
  }
  ctx.print(`  kill -9 → down: ${out.map((o) => o.downMs.toFixed(0)).join(' ')} ms`);
  return out;
}

/** A cheap JSON call over a keep-alive agent (fetch costs several times more CPU per call, which matters at 600/s). */
function quickCall(
  agent: Agent,
  base: string,
  method: string,
  path: string,
  headers: Headers,
  body: unknown,
) {
  const payload = JSON.stringify(body);
  const u = new URL(base);
  return new Promise<{ status: number; data: { leaseMs?: number } }>((resolve, reject) => {
    const req = request(
      {
        agent,
        host: u.hostname,
        port: u.port,
        method,
        path,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
        timeout: 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let data = {};
          try {
            data = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, data });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

async function thousandInstances(ctx: BenchContext, sys: BenchSystem, seconds: number) {
  // A distributor of its own, so the 1,000 instances do not reach the system's gateway.
  const d = await spawnService(sys, 'distributor', { logFile: ctx.log('registry-distributor-1000.log') });
  const token = await new InternalTokens('bench', sys.system.internalTokenSecret, 3600).sign();
  const auth = { 'x-internal-token': token };
  const instances = 1000;
  const { server, url } = await fakeUpstream(() => undefined);
  let stopHeartbeats = false;
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  try {
    await sleep(300);
    const rssIdle = rssBytes(d.pid);
    let leaseMs = 5000;
    let errors = 0;
    let beats = 0;
    let reRegistrations = 0;
    const register = async (n: number, id: string, service: string) => {
      const res = await quickCall(
        agent,
        d.url,
        'PUT',
        `/registry/instances/${id}`,
        auth,
        registration(service, id, url, [`/${service}/a`, `/${service}/b/:id`, `/${service}/c`]),
      );
      if (res.status !== 200) throw new Error(`registration ${n} answered ${res.status}`);
      leaseMs = res.data.leaseMs ?? leaseMs;
    };
    const stats = {
      cpuPercent: 1,
      rssBytes: 80e6,
      heapUsedBytes: 20e6,
      eventLoopLagMs: 1,
      inFlight: 0,
      uptimeSeconds: 60,
    };
    // Each instance registers, then heartbeats every lease/3 (registering again on 404), as the kit does.
    const registered: Promise<void>[] = [];
    const loops: Promise<void>[] = [];
    const r0 = performance.now();
    for (let n = 0; n < instances; n++) {
      const service = `bench-svc-${n % 20}`;
      const id = `${service}-${n}-${randomUUID().slice(0, 8)}`;
      const first = register(n, id, service);
      registered.push(first);
      loops.push(
        first.then(async () => {
          while (!stopHeartbeats) {
            await sleep(leaseMs / 3);
            if (stopHeartbeats) break;
            const res = await quickCall(agent, d.url, 'POST', `/registry/instances/${id}/heartbeat`, auth, {
              stats,
            }).catch(() => ({ status: 0 }));
            if (res.status === 200) beats++;
            else if (res.status === 404) {
              reRegistrations++;
              await register(n, id, service).catch(() => errors++);
            } else errors++;
          }
        }),
      );
      if (n % 50 === 49) await Promise.all(registered.slice(-50));
    }
    await Promise.all(registered);
    const registerMs = performance.now() - r0;
    const heartbeatMs = leaseMs / 3;
    await sleep(heartbeatMs + 500); // every instance has heartbeated once
    const pending = new Map<string, number>();
    const latencies: number[] = [];
    const w = await watch(d.url, auth, (event, data, at) => {
      if (event !== 'up') return;
      const id = (JSON.parse(data) as { instance: { instanceId: string } }).instance.instanceId;
      const sent = pending.get(id);
      if (sent !== undefined) latencies.push(at - sent);
    });
    const cpu0 = cpuMicros(d.pid)!;
    const beats0 = beats;
    const t0 = performance.now();
    const probes = Math.max(5, Math.round(seconds * 2));
    for (let i = 0; i < probes; i++) {
      const id = `bench-watch-${i}-${randomUUID().slice(0, 8)}`;
      pending.set(id, performance.now());
      await call(d.url, 'PUT', `/registry/instances/${id}`, {
        headers: auth,
        body: registration('bench-watch', id, url, ['/bench-watch/x']),
      });
      await sleep((seconds * 1000) / probes);
    }
    const wall = performance.now() - t0;
    const cpu = cpuMicros(d.pid)! - cpu0;
    const beatsDone = beats - beats0;
    const rssLoaded = rssBytes(d.pid);
    await w.close();
    stopHeartbeats = true;
    await Promise.all(loops);
    ctx.print(
      `  1,000 instances: distributor ${((cpu / (wall * 1000)) * 100).toFixed(1)} % CPU, ${megabytes(rssLoaded)}`,
    );
    return {
      instances,
      seconds,
      heartbeatMs,
      heartbeatsPerS: beatsDone / (wall / 1000),
      cpuPercent: (cpu / (wall * 1000)) * 100,
      cpuUsPerHeartbeat: cpu / Math.max(1, beatsDone),
      rssIdle,
      rssLoaded,
      registerMs,
      watch: latencies,
      errors,
      reRegistrations,
    };
  } finally {
    stopHeartbeats = true;
    server.close();
    server.closeAllConnections();
    agent.destroy();
    await stopProcess(d);
  }
}
