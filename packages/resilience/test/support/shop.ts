// The whole shop as real processes on loopback (the local runner), isolated from anything else on the
// machine by the runner's startIsolatedSystem: its own root (data folder), free ports, its own databases and
// Redis key prefix, all removed on stop.
import path from 'node:path';
import { Client } from 'pg';
import { startIsolatedSystem, type RunningSystem, type StartSystemOptions } from '@msa/runner';

export { freePort } from '@msa/runner';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');

export interface Shop {
  system: RunningSystem;
  gateway: string;
  /** The gateway's admin listener: /metrics and /internal/*, on 127.0.0.1. */
  gatewayAdmin: string;
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
  const lines: string[] = [];
  const { system, env, stop } = await startIsolatedSystem({
    name: 'res',
    servicesDir: path.join(REPO_ROOT, 'services'),
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      REGISTRY_LEASE_MS: '1000',
      RECONCILE_INTERVAL_MS: '200',
      RECONCILE_AFTER_MS: '1500',
      RECONCILE_LEASE_MS: '2000',
      SEED_CATALOG: 'false',
      MSA_DEREGISTER_GRACE_MS: '150',
      ...options.env,
    },
    quiet: true,
    print: (line) => lines.push(line),
    only: options.only ?? ['gateway', 'member', 'product', 'purchase'],
    scale: options.scale,
    stopTimeoutMs: 5000,
    restart: options.restart,
  });
  return {
    system,
    gateway: system.gatewayUrl!,
    gatewayAdmin: system.gatewayAdminUrl!,
    env,
    lines,
    realPostgres: Boolean(env.DATABASE_URL),
    stop,
  };
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
