// A whole system for a test or a tool that must not touch anything else on the machine: a temporary root of
// its own (its .data with the embedded databases and the TLS certificate is shared with nobody, not even
// `npm start` in this checkout), a free distributor port, databases and Redis keys under a prefix of its own,
// and all of that gone again after stop().
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
import Redis from 'ioredis';
import { Client } from 'pg';
import { pgliteServerScript } from './embedded-postgres';
import { discoverServices, planServices } from './services';
import { startSystem, type RunningSystem, type StartSystemOptions } from './system';

export interface IsolatedSystemOptions extends Omit<StartSystemOptions, 'rootDir' | 'databasePrefix'> {
  /**
   * Names what the system makes: the root `<tmp>/msa-<name>-…`, the databases `<name>_<pid>_<hex>_<service>`,
   * the Redis keys `<name>:<pid>_<hex>:…`. Lower-case letters and digits, starting with a letter.
   */
  name: string;
  /** The services/ folder the root links to (default this checkout's). */
  servicesDir?: string;
}

export interface IsolatedSystem {
  system: RunningSystem;
  /** What the children got (DISTRIBUTOR_PORT, REDIS_KEY_PREFIX, INTERNAL_TOKEN_SECRET, …): enough to start one more. */
  env: NodeJS.ProcessEnv;
  rootDir: string;
  databasePrefix: string;
  redisKeyPrefix: string;
  /** Stops the system, then drops its databases, deletes its Redis keys and removes its root. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_SERVICES_DIR = path.resolve(__dirname, '..', '..', '..', 'services');

/**
 * startSystem() in isolation. In the environment (default process.env) DISTRIBUTOR_PORT becomes a free port
 * and GATEWAY_HTTP_PORT / GATEWAY_HTTPS_PORT / GATEWAY_ADMIN_PORT become 0 unless given; REDIS_KEY_PREFIX is always this system's own.
 * On embedded databases (no DATABASE_URL) each service's data folder starts as a copy of an empty one made
 * once, which skips initdb. If the start fails, what was made is removed before the error is rethrown.
 */
export async function startIsolatedSystem(options: IsolatedSystemOptions): Promise<IsolatedSystem> {
  const { name, servicesDir = DEFAULT_SERVICES_DIR, env: givenEnv = process.env, ...startOptions } = options;
  if (!/^[a-z][a-z0-9]{0,19}$/.test(name)) {
    throw new Error(`isolated system name "${name}": use up to 20 lower-case letters and digits`);
  }
  const id = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const databasePrefix = `${name}_${id}`;
  const redisKeyPrefix = `${name}:${id}:`;
  const rootDir = mkdtempSync(path.join(tmpdir(), `msa-${name}-`));
  let env: NodeJS.ProcessEnv = givenEnv;
  const removeAll = () => removeIsolated(rootDir, env, databasePrefix, redisKeyPrefix);
  let system: RunningSystem;
  try {
    env = {
      ...givenEnv,
      // A fixed port, so that a restarted distributor comes back where the services look for it.
      DISTRIBUTOR_PORT: givenEnv.DISTRIBUTOR_PORT || String(await freePort()),
      GATEWAY_HTTP_PORT: givenEnv.GATEWAY_HTTP_PORT || '0',
      GATEWAY_HTTPS_PORT: givenEnv.GATEWAY_HTTPS_PORT || '0',
      GATEWAY_ADMIN_PORT: givenEnv.GATEWAY_ADMIN_PORT || '0',
      REDIS_KEY_PREFIX: redisKeyPrefix,
    };
    symlinkSync(path.resolve(servicesDir), path.join(rootDir, 'services'), 'dir');
    if (!env.DATABASE_URL) await seedEmbeddedDatabases(rootDir, startOptions);
    system = await startSystem({ ...startOptions, rootDir, env, databasePrefix });
  } catch (err) {
    // The start error is the one worth reading; a failed clean-up must not hide it.
    await removeAll().catch(() => undefined);
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    system,
    env: { ...env, INTERNAL_TOKEN_SECRET: system.internalTokenSecret },
    rootDir,
    databasePrefix,
    redisKeyPrefix,
    stop() {
      stopping ??= (async () => {
        try {
          await system.stop();
        } finally {
          await removeAll();
        }
      })();
      return stopping;
    },
  };
}

async function removeIsolated(
  rootDir: string,
  env: NodeJS.ProcessEnv,
  databasePrefix: string,
  redisKeyPrefix: string,
): Promise<void> {
  rmSync(rootDir, { recursive: true, force: true });
  const results = await Promise.allSettled([
    env.DATABASE_URL ? dropDatabases(env.DATABASE_URL, databasePrefix) : undefined,
    env.REDIS_URL ? deleteRedisKeys(env.REDIS_URL, redisKeyPrefix) : undefined,
  ]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** A loopback port free now (for a service that must come back on the same port after a restart). */
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

/** Drops the databases `<prefix>_…` on the server (as the runner names them), even with clients still on them; returns their names. */
export async function dropDatabases(serverUrl: string, prefix: string): Promise<string[]> {
  if (!prefix) throw new Error('dropDatabases needs a prefix');
  const admin = new Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname LIKE $1',
      [`${prefix.replace(/[\\%_]/g, '\\$&')}\\_%`],
    );
    for (const { datname } of rows) {
      await admin.query(`DROP DATABASE IF EXISTS "${datname.replace(/"/g, '""')}" WITH (FORCE)`);
    }
    return rows.map((r) => r.datname);
  } finally {
    await admin.end();
  }
}

/** Deletes every Redis key starting with `prefix`; returns how many. */
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<number> {
  if (!prefix) throw new Error('deleteRedisKeys needs a prefix');
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined); // connect() and the commands reject with it
  try {
    await redis.connect();
    const pattern = `${prefix.replace(/[\\*?[\]]/g, '\\$&')}*`;
    let cursor = '0';
    let deleted = 0;
    // Bounded: 10,000 rounds of 500 is far more than a test system writes.
    for (let round = 0; round < 10_000; round++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      if (keys.length > 0) deleted += await redis.del(...keys);
      cursor = next;
      if (cursor === '0') return deleted;
    }
    throw new Error(`deleteRedisKeys: keys under "${prefix}" not all seen after 10,000 SCAN rounds`);
  } finally {
    redis.disconnect();
  }
}

/** Puts a copy of an empty PGlite data folder where each service to start keeps its embedded database. */
async function seedEmbeddedDatabases(
  rootDir: string,
  { only, scale }: Pick<StartSystemOptions, 'only' | 'scale'>,
): Promise<void> {
  const { services, unbuilt } = discoverServices(rootDir);
  let withDatabase: string[];
  try {
    withDatabase = planServices(services, { only, scale, unbuilt })
      .filter((s) => s.hasDatabase)
      .map((s) => s.name);
  } catch {
    return; // startSystem will say what is wrong with the plan
  }
  if (withDatabase.length === 0) return;
  const template = await emptyPgliteTemplate();
  for (const service of withDatabase) {
    const pgdata = path.join(rootDir, '.data', service, 'pgdata');
    mkdirSync(path.dirname(pgdata), { recursive: true });
    cpSync(template, pgdata, { recursive: true });
  }
}

/**
 * An empty embedded Postgres data folder to copy for each service. Creating one (initdb inside WebAssembly)
 * takes seconds, opening a copy well under one. Made once by the runner's own PGlite server and kept in the
 * temp folder, per PGlite version.
 */
async function emptyPgliteTemplate(): Promise<string> {
  const template = path.join(tmpdir(), `msa-pgdata-template-${pgliteVersion()}`);
  if (existsSync(path.join(template, 'PG_VERSION'))) return template;
  const building = mkdtempSync(`${template}.building-`);
  try {
    // `--init-only` runs initdb and closes the folder cleanly, then exits.
    const init = spawn(process.execPath, [pgliteServerScript(), '--init-only', building], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    init.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    const timer = setTimeout(() => init.kill('SIGKILL'), 120_000);
    const code = await new Promise<number | null>((resolve) => init.once('exit', (exit) => resolve(exit)));
    clearTimeout(timer);
    if (code !== 0)
      throw new Error(`PGlite template not made (exit ${code ?? 'killed after 120 s'}): ${stderr}`);
    try {
      renameSync(building, template);
    } catch (err) {
      // Another process made it meanwhile: use theirs.
      if (!existsSync(path.join(template, 'PG_VERSION'))) throw err;
    }
    return template;
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

function pgliteVersion(): string {
  let dir = path.dirname(require.resolve('@electric-sql/pglite'));
  for (let up = 0; up < 5; up++, dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === '@electric-sql/pglite') return pkg.version ?? 'unknown';
  }
  return 'unknown';
}
