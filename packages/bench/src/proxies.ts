// The proxies a user would put in front of a service instead of our gateway (nginx and HAProxy from Debian's
// packages, small Node scripts in peers/), each started pinned on the server core in front of one upstream.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { call } from './client';
import { freePort, processTree, sleep, spawnPinned, waitForHttp, type Spawned } from './proc';
import type { BenchContext } from './report';
import type { Target } from './sweeps';

export const PEERS_DIR = path.join(__dirname, '..', 'peers');

/** Polls until our gateway routes `path` (its live table has the route from the registry). */
export async function waitForRoute(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const r = await call(base, 'GET', path, { headers }).catch(() => ({ status: 0 }));
    if (r.status === 200) return;
    await sleep(20);
  }
  throw new Error(`${base}${path} is not routed`);
}

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** nginx and HAProxy from Debian's packages, installed with apt-get when missing (as root). */
export function ensureNativeProxies(
  ctx: BenchContext,
  notes: string[],
): { nginx: boolean; haproxy: boolean } {
  const missing = ['nginx', 'haproxy'].filter((c) => !has(c) && !existsSync(`/usr/sbin/${c}`));
  if (missing.length > 0) {
    ctx.print(`Installing ${missing.join(' and ')} with apt-get…`);
    try {
      execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {
        stdio: 'ignore',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        timeout: 300_000,
      });
    } catch (err) {
      notes.push(
        `apt-get install ${missing.join(' ')} failed (${(err as Error).message.split('\n')[0]}); those rows are missing.`,
      );
    }
  }
  const nginx = has('nginx') || existsSync('/usr/sbin/nginx');
  const haproxy = has('haproxy') || existsSync('/usr/sbin/haproxy');
  return { nginx, haproxy };
}

function versionOf(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0]!.trim();
}

export async function startNginx(ctx: BenchContext, upstreamPort: number, cpu: string) {
  const dir = ctx.dir('nginx');
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log ${dir}/access.log;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream backend {
    server 127.0.0.1:${upstreamPort};
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  const bin = has('nginx') ? 'nginx' : '/usr/sbin/nginx';
  const proc = spawnPinned(bin, ['-p', dir, '-c', conf], {
    cpus: cpu,
    logFile: path.join(dir, 'stdout.log'),
  });
  const url = `http://127.0.0.1:${port}`;
  await waitListening(url, proc, 'nginx');
  ctx.versions.nginx = versionOf(bin, ['-v']);
  return { proc, url };
}

export async function startHaproxy(ctx: BenchContext, upstreamPort: number, cpu: string) {
  const dir = ctx.dir('haproxy');
  const port = await freePort();
  const conf = path.join(dir, 'haproxy.cfg');
  writeFileSync(
    conf,
    `global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend bench
  bind 127.0.0.1:${port}
  default_backend upstream
backend upstream
  server p1 127.0.0.1:${upstreamPort} maxconn 1000
`,
  );
  const bin = has('haproxy') ? 'haproxy' : '/usr/sbin/haproxy';
  const proc = spawnPinned(bin, ['-db', '-f', conf], { cpus: cpu, logFile: path.join(dir, 'stdout.log') });
  const url = `http://127.0.0.1:${port}`;
  await waitListening(url, proc, 'HAProxy');
  ctx.versions.haproxy = versionOf(bin, ['-v']);
  return { proc, url };
}

export async function startNodePeer(
  ctx: BenchContext,
  script: string,
  upstream: string,
  cpu: string,
  env: NodeJS.ProcessEnv = {},
) {
  const port = await freePort();
  const proc = spawnPinned(process.execPath, [path.join(PEERS_DIR, script)], {
    cpus: cpu,
    env: { ...process.env, UPSTREAM: upstream, PORT: String(port), NODE_ENV: 'production', ...env },
    logFile: ctx.log(`hop-${script}.log`),
  });
  const url = `http://127.0.0.1:${port}`;
  await waitListening(url, proc, script);
  return { proc, url };
}

/** Up when it answers anything at all. */
export async function waitListening(url: string, proc: Spawned, name: string): Promise<void> {
  await Promise.race([
    waitForHttp(`${url}/health/live`, 15_000, 20, true),
    proc.exited.then((code) => {
      throw new Error(`${name} exited (${code}) before listening`);
    }),
  ]);
}

/**
 * The peers in front of one upstream, started pinned on `cpu`, as targets: nginx and HAProxy when installed, then
 * the Node scripts named (`[row name, script in peers/]`). Every process started is pushed to `started` at once,
 * so the caller stops it even when a later one fails.
 */
export async function startPeers(
  ctx: BenchContext,
  opts: {
    upstreamUrl: string;
    cpu: string;
    headers: Record<string, string>;
    native: { nginx: boolean; haproxy: boolean };
    node: ReadonlyArray<readonly [string, string]>;
    env?: NodeJS.ProcessEnv;
    started: Spawned[];
  },
): Promise<Target[]> {
  const { cpu, headers, started } = opts;
  const upstreamPort = Number(new URL(opts.upstreamUrl).port);
  const targets: Target[] = [];
  if (opts.native.nginx) {
    const p = await startNginx(ctx, upstreamPort, cpu);
    started.push(p.proc);
    targets.push({ name: 'nginx', kind: 'native', url: p.url, headers, pids: () => processTree(p.proc.pid) });
  }
  if (opts.native.haproxy) {
    const p = await startHaproxy(ctx, upstreamPort, cpu);
    started.push(p.proc);
    targets.push({ name: 'HAProxy', kind: 'native', url: p.url, headers, pids: () => [p.proc.pid] });
  }
  for (const [name, script] of opts.node) {
    const p = await startNodePeer(ctx, script, opts.upstreamUrl, cpu, opts.env);
    started.push(p.proc);
    targets.push({ name, kind: 'node', url: p.url, headers, pids: () => [p.proc.pid] });
  }
  return targets;
}
