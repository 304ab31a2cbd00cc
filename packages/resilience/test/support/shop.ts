// The whole shop as real processes on loopback (the local runner), isolated from anything else on the
// machine: its own root (data folder), free ports, its own databases and Redis key prefix.
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startSystem, type RunningSystem, type StartSystemOptions } from '@msa/runner';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');

let counter = 0;

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Shop {
  system: RunningSystem;
  gateway: string;
  /** The environment the services were started with (for an extra instance started by a test). */
  env: NodeJS.ProcessEnv;
  lines: string[];
  /** Whether the services run on a real Postgres (DATABASE_URL) rather than embedded PGlite. */
  realPostgres: boolean;
  stop(): Promise<void>;
}

export interface ShopOptions {
  scale?: Record<string, number>;
  only?: string[];
  env?: Record<string, string>;
  restart?: StartSystemOptions['restart'];
}

/**
 * Starts distributor, gateway, member, product and purchase (or `only`) from their built dist/.
 * Short registry leases and a fast reconciler keep the fault tests short.
 */
export async function startShop(options: ShopOptions = {}): Promise<Shop> {
  const n = ++counter;
  const root = mkdtempSync(path.join(os.tmpdir(), 'msa-resilience-'));
  symlinkSync(path.join(REPO_ROOT, 'services'), path.join(root, 'services'), 'dir');
  const tag = `res${process.pid}x${n}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // A fixed port for the distributor, so a restarted one is found where the others look for it.
    DISTRIBUTOR_PORT: String(await freePort()),
    GATEWAY_PORT: '0',
    GATEWAY_HTTPS_PORT: '0',
    LOG_LEVEL: 'warn',
    REDIS_KEY_PREFIX: `${tag}:`,
    REGISTRY_LEASE_MS: '1000',
    RECONCILE_INTERVAL_MS: '200',
    RECONCILE_AFTER_MS: '1500',
    RECONCILE_LEASE_MS: '2000',
    SEED_CATALOG: 'false',
    MSA_DEREGISTER_GRACE_MS: '150',
    ...options.env,
  };
  const lines: string[] = [];
  let system: RunningSystem;
  try {
    system = await startSystem({
      rootDir: root,
      env,
      quiet: true,
      print: (line) => lines.push(line),
      only: options.only ?? ['gateway', 'member', 'product', 'purchase'],
      scale: options.scale,
      databasePrefix: tag,
      stopTimeoutMs: 5000,
      restart: options.restart,
    });
  } catch (err) {
    await dropDatabases(env.DATABASE_URL, tag);
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  return {
    system,
    gateway: system.gatewayUrl!,
    env,
    lines,
    realPostgres: Boolean(env.DATABASE_URL),
    async stop() {
      await system.stop();
      await dropDatabases(env.DATABASE_URL, tag);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

async function dropDatabases(serverUrl: string | undefined, tag: string): Promise<void> {
  if (!serverUrl) return;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname LIKE $1',
      [`${tag}\\_%`],
    );
    for (const { datname } of rows) await admin.query(`DROP DATABASE "${datname}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** One query on a service's own database (simple protocol: safe on the embedded engine's multiplexer). */
export async function sql<T>(shop: Shop, service: string, text: string): Promise<T[]> {
  const client = new Client({
    connectionString: shop.system.databases[service],
    connectionTimeoutMillis: 5000,
  });
  await client.connect();
  try {
    const result = await client.query(text);
    return result.rows as T[];
  } finally {
    await client.end();
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `test` holds (bounded); returns the last value either way. */
export async function eventually<T>(
  read: () => Promise<T>,
  test: (value: T) => boolean,
  timeoutMs = 15000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!test(value) && Date.now() < deadline) {
    await sleep(everyMs);
    value = await read().catch(() => value);
  }
  return value;
}
