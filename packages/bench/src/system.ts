// The real system for benchmarks: started with the runner's startSystem() in a private root (own data folder,
// ports picked free), so it never collides with an `npm start` or with tests running in the same checkout.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSystem, type RunningSystem, type StartSystemOptions } from '@msa/runner';
import { freePort, spawnPinned, waitForHttp, type Spawned } from './proc';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export interface BenchSystem {
  system: RunningSystem;
  root: string;
  gatewayUrl: string;
  /** The gateway's admin listener: metrics and /internal/routes. */
  gatewayAdminUrl: string;
  stop(): Promise<void>;
}

/** Rate limits are raised (not switched off): the limiter still runs, but a load test is not a flood to stop. */
export const BENCH_RATE_LIMIT = '100000000';

export async function startBenchSystem(options: StartSystemOptions = {}): Promise<BenchSystem> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'msa-bench-'));
  symlinkSync(path.join(REPO_ROOT, 'services'), path.join(root, 'services'));
  mkdirSync(path.join(root, '.data'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DISTRIBUTOR_PORT: String(await freePort()),
    GATEWAY_HTTP_PORT: '0',
    GATEWAY_HTTPS_PORT: '0',
    GATEWAY_ADMIN_PORT: '0',
    RATE_LIMIT_POINTS: BENCH_RATE_LIMIT,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    ...options.env,
  };
  const system = await startSystem({
    quiet: true,
    prettyLogs: false,
    databasePrefix: 'msabench',
    ...options,
    rootDir: root,
    env,
  });
  let stopped: Promise<void> | undefined;
  return {
    system,
    root,
    gatewayUrl: system.gatewayUrl ?? '',
    gatewayAdminUrl: system.gatewayAdminUrl ?? '',
    stop: () => (stopped ??= system.stop().finally(() => rmSync(root, { recursive: true, force: true }))),
  };
}

export interface OwnInstance extends Spawned {
  url: string;
  port: number;
  /** From the spawn to the first 200 of /health/ready (the kit answers it once started and registered). */
  readyMs: number;
  /** Date.now() at the spawn, to place the instance's own log times. */
  spawnedAtWall: number;
}

/**
 * One more instance of a service, started by the bench rather than the runner: pinned to a CPU, its log written to a
 * file (not piped through this process, which would steal the load generator's core), optionally profiled.
 */
export async function spawnService(
  sys: Pick<BenchSystem, 'system' | 'root'>,
  service: string,
  opts: {
    cpus?: string;
    env?: NodeJS.ProcessEnv;
    nodeArgs?: string[];
    logFile: string;
    /** Another built checkout to run the service from (a baseline to compare with); default this one. */
    root?: string;
  },
): Promise<OwnInstance> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'info',
    INTERNAL_TOKEN_SECRET: sys.system.internalTokenSecret,
    DISTRIBUTOR_URL: sys.system.distributorUrl ?? '',
    DATA_DIR: path.join(sys.root, '.data'),
    RATE_LIMIT_POINTS: BENCH_RATE_LIMIT,
    ...(service === 'gateway' ? { HTTPS_PORT: '0' } : {}),
    ...(sys.system.databases[service] ? { DATABASE_URL: sys.system.databases[service] } : {}),
    ...opts.env,
  };
  const root = opts.root ?? REPO_ROOT;
  const main = path.join(root, 'services', service, 'dist', 'main.js');
  const spawnedAt = performance.now();
  const spawnedAtWall = Date.now();
  const proc = spawnPinned(process.execPath, [...(opts.nodeArgs ?? []), main], {
    cpus: opts.cpus,
    env,
    logFile: opts.logFile,
    cwd: path.join(root, 'services', service),
  });
  const url = `http://127.0.0.1:${port}`;
  await Promise.race([
    waitForHttp(`${url}/health/ready`, 30_000, 2),
    proc.exited.then((code) => {
      throw new Error(`${service} exited (${code}) before it was ready; see ${opts.logFile}`);
    }),
  ]);
  return { ...proc, url, port, readyMs: performance.now() - spawnedAt, spawnedAtWall };
}
