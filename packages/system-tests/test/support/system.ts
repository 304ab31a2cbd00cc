// The real, built services as processes on loopback, started through the local runner (packages/runner).
// Each test file starts one system in beforeAll and stops it in afterAll; everything it made (a temporary
// root with its embedded databases, databases on a real server, Redis keys) goes with it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSystem, type RunningSystem } from '@msa/runner';
import { InternalTokens, createRedis, createLogger } from '@msa/service-kit';
import { Client } from 'pg';

export const SERVICES_DIR = path.resolve(__dirname, '..', '..', '..', '..', 'services');

/** The registry lease the systems here run with: short, so that a lost instance is dropped in a second. */
export const LEASE_MS = 1000;

export interface TestSystem {
  system: RunningSystem;
  gatewayUrl: string;
  distributorUrl: string;
  /** What the runner gave the children (and what a second distributor needs to join them). */
  env: NodeJS.ProcessEnv;
  /** An internal token as a service of this deployment would sign it. */
  internalToken(iss?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface TestSystemOptions {
  only: string[];
  scale?: Record<string, number>;
  env?: Record<string, string>;
}

/** A port free now, for the distributor: a restarted distributor must come back where the services look for it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startTestSystem(options: TestSystemOptions): Promise<TestSystem> {
  const id = `${process.pid}_${randomBytes(3).toString('hex')}`;
  // A root of its own, whose services/ is this checkout's: its .data (embedded databases, TLS certificate)
  // is fresh and shared with nobody, not even `npm start` in this checkout.
  const rootDir = mkdtempSync(path.join(tmpdir(), 'msa-system-'));
  symlinkSync(SERVICES_DIR, path.join(rootDir, 'services'), 'dir');
  if (!process.env.DATABASE_URL) {
    const template = await emptyPgliteTemplate();
    for (const service of options.only.filter((name) =>
      existsSync(path.join(SERVICES_DIR, name, 'migrations')),
    )) {
      const pgdata = path.join(rootDir, '.data', service, 'pgdata');
      mkdirSync(path.dirname(pgdata), { recursive: true });
      cpSync(template, pgdata, { recursive: true });
    }
  }
  const databasePrefix = `systest_${id}`;
  const redisPrefix = `systest:${id}:`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DISTRIBUTOR_PORT: String(await freePort()),
    GATEWAY_PORT: '0',
    GATEWAY_HTTPS_PORT: '0',
    LOG_LEVEL: 'warn',
    REDIS_KEY_PREFIX: redisPrefix,
    REGISTRY_LEASE_MS: String(LEASE_MS),
    // Rate limiting has its own tests; here it would only turn a bounded load into 429s.
    RATE_LIMIT_POINTS: '0',
    SHUTDOWN_TIMEOUT_MS: '3000',
    ...options.env,
  };
  let system: RunningSystem;
  try {
    system = await startSystem({
      rootDir,
      env,
      only: options.only,
      scale: options.scale,
      quiet: true,
      databasePrefix,
      startTimeoutMs: 60_000,
      stopTimeoutMs: 5000,
    });
  } catch (err) {
    await cleanUp(rootDir, databasePrefix, redisPrefix);
    throw err;
  }
  const tokens = new Map<string, InternalTokens>();
  return {
    system,
    gatewayUrl: system.gatewayUrl!,
    distributorUrl: system.distributorUrl!,
    env: { ...env, INTERNAL_TOKEN_SECRET: system.internalTokenSecret },
    internalToken(iss = 'system-tests') {
      let signer = tokens.get(iss);
      if (!signer) tokens.set(iss, (signer = new InternalTokens(iss, system.internalTokenSecret)));
      return signer.sign();
    },
    async stop() {
      try {
        await system.stop();
      } finally {
        await cleanUp(rootDir, databasePrefix, redisPrefix);
      }
    },
  };
}

const RUNNER_DIR = path.resolve(__dirname, '..', '..', '..', 'runner');

/**
 * An empty embedded Postgres data folder to copy for each service. Creating one (initdb inside WebAssembly)
 * takes seconds, opening a copy well under one: without this, the embedded runs spend most of their time in
 * initdb. Made once by the runner's own PGlite server and kept in the temp folder, per PGlite version.
 */
async function emptyPgliteTemplate(): Promise<string> {
  const template = path.join(tmpdir(), `msa-system-tests-pgdata-${pgliteVersion()}`);
  if (existsSync(path.join(template, 'PG_VERSION'))) return template;
  const building = mkdtempSync(`${template}.building-`);
  try {
    const server = spawn(
      process.execPath,
      [path.join(RUNNER_DIR, 'dist', 'pglite-server.js'), '--data-dir', building],
      {
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      },
    );
    let stderr = '';
    server.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        server.kill('SIGKILL');
        reject(new Error(`PGlite template not ready in 120 s: ${stderr}`));
      }, 120_000);
      server.on('message', (message: { type?: string }) => {
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        resolve();
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`PGlite template server exited with ${code}: ${stderr}`));
      });
    });
    server.kill('SIGTERM'); // closing flushes the files
    if ((await exited) !== 0) throw new Error(`PGlite template server did not close cleanly: ${stderr}`);
    try {
      renameSync(building, template);
    } catch (err) {
      // Another test process made it meanwhile: use theirs.
      if (!existsSync(path.join(template, 'PG_VERSION'))) throw err;
    }
    return template;
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

function pgliteVersion(): string {
  let dir = path.dirname(require.resolve('@electric-sql/pglite', { paths: [RUNNER_DIR] }));
  for (let up = 0; up < 5; up++, dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === '@electric-sql/pglite') return pkg.version ?? 'unknown';
  }
  return 'unknown';
}

async function cleanUp(rootDir: string, databasePrefix: string, redisPrefix: string): Promise<void> {
  rmSync(rootDir, { recursive: true, force: true });
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) {
    const admin = new Client({ connectionString: databaseUrl });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ datname: string }>(
        'SELECT datname FROM pg_database WHERE datname LIKE $1',
        [`${databasePrefix}\\_%`],
      );
      for (const { datname } of rows) await admin.query(`DROP DATABASE "${datname}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  }
  const redisUrl = process.env.REDIS_URL;
  if (redisUrl) {
    const redis = createRedis(
      redisUrl,
      createLogger({ service: 'system-tests', instanceId: 'cleanup', level: 'silent' }),
    );
    try {
      await redis.connect();
      let cursor = '0';
      for (let round = 0; round < 1000; round++) {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 500);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
        if (cursor === '0') break;
      }
    } finally {
      redis.disconnect();
    }
  }
}
