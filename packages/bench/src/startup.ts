// Part 4, start-up: process start → ready (registered) → routable, per service; and `npm start` → first purchase.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InternalTokens } from '@msa/service-kit';
import { call, listProducts, newMember } from './client';
import { freePort, sleep, stopProcess } from './proc';
import type { BenchContext, Section } from './report';
import { fixed, markdownTable, median } from './stats';
import { REPO_ROOT, spawnService, startBenchSystem, type BenchSystem } from './system';

export async function startup(ctx: BenchContext): Promise<Section> {
  const trials = ctx.quick ? 1 : 3;
  const nodeBaseline = median(
    Array.from({ length: 3 }, () => {
      const t0 = performance.now();
      spawnSync(process.execPath, ['-e', '0']);
      return performance.now() - t0;
    }),
  );
  const rows: string[][] = [];
  let failed = false;
  const sys = await startBenchSystem();
  try {
    const token = await new InternalTokens('bench', sys.system.internalTokenSecret, 3600).sign();
    for (const service of ['distributor', 'member', 'product', 'purchase', 'gateway']) {
      const ready: number[] = [];
      const routable: number[] = [];
      const listening: number[] = [];
      for (let i = 0; i < trials; i++) {
        const t0 = performance.now();
        const logFile = ctx.log(`startup-${service}-${i}.log`);
        const inst = await spawnService(sys, service, { logFile });
        try {
          ready.push(inst.readyMs);
          if (service === 'gateway') {
            await until(async () => (await call(inst.url, 'GET', '/products?limit=1')).status === 200);
            routable.push(performance.now() - t0);
          } else if (service !== 'distributor') {
            await until(() => inGatewayTable(sys, inst.url, token));
            routable.push(performance.now() - t0);
          }
        } finally {
          await stopProcess(inst);
        }
        // Read once it has exited: a service may buffer its log lines (the gateway does), and flushes them at exit.
        const at = loggedAt(logFile, / listening$/);
        if (at !== undefined) listening.push(at - inst.spawnedAtWall);
      }
      const worst = Math.max(...(routable.length ? routable : ready));
      const ok = worst <= 1000;
      failed ||= !ok;
      rows.push([
        service,
        listening.length ? `${fixed(median(listening))} ms` : '—',
        `${fixed(median(ready))} ms`,
        routable.length ? `${fixed(median(routable))} ms` : '— (it is the registry)',
        `${fixed(worst)} ms`,
        ok ? 'met' : 'MISSED',
      ]);
      ctx.print(
        `  ${service}: ready ${ready.map((x) => x.toFixed(0)).join(' ')} ms, routable ${routable.map((x) => x.toFixed(0)).join(' ')} ms`,
      );
    }
  } finally {
    await sys.stop();
  }
  const whole = await npmStartToPurchase(ctx);
  const body = [
    `Each service started once more next to a running system (its own process, ${trials} trial(s) each, embedded data tier): ` +
      'from the spawn to its first `200` on `/health/ready` (the kit answers it once the database is reachable and the ' +
      'instance registered), and to the gateway routing to it (the instance listed in the gateway’s live table; for the ' +
      `gateway itself, a product list served through it). “Listening” is the time of the kit's \`listening\` log line ` +
      '(modules loaded, config read, database connected and migrated, HTTP listening); ready adds registration and ' +
      `the service's own start hooks. For scale: \`node -e 0\` takes ${fixed(nodeBaseline)} ms here.`,
    '',
    markdownTable(
      ['service', 'listening (median)', 'ready (median)', 'routable (median)', 'worst', 'target ≤ 1 s'],
      rows,
    ),
    '',
    `**\`npm start\` → first successful purchase** (the whole system on embedded defaults in a fresh data folder: ` +
      `install check, turbo build (run once before, so its cache is warm), PGlite per service, every service, then a new member registers, logs in ` +
      `and buys): ${whole}.`,
  ];
  return { id: 'startup', title: '5. Start-up', body: body.join('\n'), failed };
}

/** The wall time of the first JSON log line whose message matches. */
function loggedAt(file: string, message: RegExp): number | undefined {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    try {
      const entry = JSON.parse(line) as { time?: string; message?: string };
      if (entry.time && entry.message && message.test(entry.message)) return Date.parse(entry.time);
    } catch {
      // not a JSON line
    }
  }
  return undefined;
}

async function until(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (performance.now() > deadline) throw new Error('timed out');
    await sleep(2);
  }
}

async function inGatewayTable(sys: BenchSystem, address: string, token: string): Promise<boolean> {
  const r = await call<{ routes: { instances: { address: string }[] }[] }>(
    sys.gatewayAdminUrl,
    'GET',
    '/internal/routes',
    {
      headers: { 'x-internal-token': token },
    },
  );
  return (
    r.status === 200 && r.data.routes.some((route) => route.instances.some((i) => i.address === address))
  );
}

async function npmStartToPurchase(ctx: BenchContext): Promise<string> {
  // A build first, untimed, so the timed `npm start` meets a warm turbo cache (its usual case after the first run).
  const prebuild = spawnSync('npx', ['turbo', 'run', 'build', '--output-logs=errors-only'], {
    cwd: REPO_ROOT,
    stdio: 'ignore',
    timeout: 300_000,
  });
  if (prebuild.status !== 0) ctx.print('  (the build before npm start failed; npm start will say why)');
  const root = mkdtempSync(path.join(os.tmpdir(), 'msa-bench-start-'));
  symlinkSync(path.join(REPO_ROOT, 'services'), path.join(root, 'services'));
  mkdirSync(path.join(root, '.data'));
  const gatewayPort = await freePort();
  const out = openSync(ctx.log('startup-npm-start.log'), 'a');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DISTRIBUTOR_PORT: String(await freePort()),
    GATEWAY_HTTP_PORT: String(gatewayPort),
    GATEWAY_HTTPS_PORT: '0',
    GATEWAY_ADMIN_PORT: '0',
  };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  const t0 = performance.now();
  // Its own process group, so npm, the runner and every service it starts are stopped together by this PID.
  const child = spawn('npm', ['start', '--', '--root', root, '--json-logs'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', out, out],
    detached: true,
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  const base = `http://127.0.0.1:${gatewayPort}`;
  try {
    let firstOk: number | undefined;
    const deadline = t0 + 300_000;
    while (firstOk === undefined && exitCode === undefined && performance.now() < deadline) {
      try {
        const [product] = await listProducts(base);
        if (product) {
          const token = await newMember(base);
          const r = await call(base, 'POST', '/purchases', {
            token,
            headers: { 'idempotency-key': `bench-${Date.now()}` },
            body: { productId: product.id, quantity: 1 },
          });
          if (r.status === 201 || r.status === 200) firstOk = performance.now() - t0;
        }
      } catch {
        // not up yet
      }
      if (firstOk === undefined) await sleep(50);
    }
    ctx.print(`  npm start → first purchase: ${firstOk === undefined ? 'none' : firstOk.toFixed(0)} ms`);
    const log = readFileSync(ctx.log('startup-npm-start.log'), 'utf8');
    const cached = /Cached:\s+(\d+) cached, (\d+) total/.exec(log);
    const took = /Time:\s+(\S+)/.exec(log);
    const build =
      cached && took
        ? ` (of which turbo's build check ${took[1]}, ${cached[1]} of ${cached[2]} tasks cached)`
        : '';
    if (firstOk !== undefined) return `**${fixed(firstOk / 1000, 1)} s**${build}`;
    const tail = log.trim().split('\n').at(-1) ?? '';
    return exitCode !== undefined
      ? `not measured: npm start exited (${exitCode}) first — “${tail.slice(0, 200)}”`
      : `no purchase within 300 s${build}`;
  } finally {
    try {
      process.kill(-child.pid!, 'SIGINT');
    } catch {
      // gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, 20_000);
    await exited;
    clearTimeout(timer);
    // The runner stops its services (in their own process groups) on the way out: wait until the gateway is gone.
    await until(
      async () =>
        !(await fetch(base, { signal: AbortSignal.timeout(500) }).then(
          () => true,
          () => false,
        )),
      20_000,
    ).catch(() => ctx.print('  (the gateway of npm start still answers after 20 s)'));
    rmSync(root, { recursive: true, force: true });
  }
}
