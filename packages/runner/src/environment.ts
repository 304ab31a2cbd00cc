import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { UsageError, type ServiceDef } from './services';

/** What the runner reads from its own environment, with the embedded defaults filled in. */
export interface RunnerSettings {
  dataDir: string;
  internalTokenSecret: string;
  logLevel: string;
  distributorPort: number;
  gatewayPort: number;
  gatewayHttpsPort: number;
  /** The gateway's admin listener (metrics, internal routes), on 127.0.0.1 only. */
  gatewayAdminPort: number;
  /** A real Postgres server to create one database per service on; embedded PGlite when unset. */
  databaseUrl?: string;
  redisUrl?: string;
  /** Embedded databases: all in one process (default, the smallest) or one process per service. */
  embeddedDbProcesses: 'one' | 'per-service';
  /** Postgres settings of the embedded engines; undefined for the runner's lean ones, [] for PGlite's stock. */
  embeddedDbSettings?: string[];
}

export function readSettings(env: NodeJS.ProcessEnv, rootDir: string): RunnerSettings {
  return {
    dataDir: path.join(rootDir, '.data'),
    // A fresh secret per run: tokens from an earlier run are worthless, and nobody has to configure one.
    internalTokenSecret: env.INTERNAL_TOKEN_SECRET || randomBytes(32).toString('base64url'),
    logLevel: env.LOG_LEVEL || 'info',
    distributorPort: port(env, 'DISTRIBUTOR_PORT', 9000),
    gatewayPort: port(env, 'GATEWAY_HTTP_PORT', 8080),
    gatewayHttpsPort: port(env, 'GATEWAY_HTTPS_PORT', 8443),
    gatewayAdminPort: port(env, 'GATEWAY_ADMIN_PORT', 9080),
    databaseUrl: env.DATABASE_URL || undefined,
    redisUrl: env.REDIS_URL || undefined,
    embeddedDbProcesses: oneOf(env, 'EMBEDDED_DB_PROCESSES', ['one', 'per-service'] as const),
    embeddedDbSettings: dbSettings(env.EMBEDDED_DB_SETTINGS),
  };
}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, choices: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return choices[0]!;
  if (!choices.includes(raw as T)) throw new UsageError(`${name}=${raw}: expected ${choices.join(' or ')}`);
  return raw as T;
}

/** `stock` for PGlite's own settings, or a comma-separated list of name=value. */
function dbSettings(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'stock') return [];
  const list = raw.split(',').map((item) => item.trim());
  for (const item of list) {
    if (!/^[a-z_]+=[A-Za-z0-9_.]+$/.test(item)) {
      throw new UsageError(`EMBEDDED_DB_SETTINGS: "${item}" is not name=value (e.g. shared_buffers=16MB)`);
    }
  }
  return list;
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new UsageError(`${name}=${raw} is not a port number (0-65535)`);
  }
  return value;
}

/** Variables the runner decides for every child; anything else in its environment passes through. */
const OWNED = [
  'EMBEDDED_DB_PROCESSES',
  'EMBEDDED_DB_SETTINGS',
  'NODE_ENV',
  'HOST',
  'PORT',
  'HTTPS_PORT',
  'ADMIN_PORT',
  'ADMIN_HOST',
  'DATA_DIR',
  'DATABASE_URL',
  'DISTRIBUTOR_URL',
];

export function serviceEnv(
  service: Pick<ServiceDef, 'role'>,
  settings: RunnerSettings,
  parentEnv: NodeJS.ProcessEnv,
  { distributorUrl, databaseUrl }: { distributorUrl: string; databaseUrl?: string },
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...parentEnv };
  for (const name of OWNED) delete env[name];
  Object.assign(env, {
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    // Port 0: the kit listens on a free port and reports it, so any number of instances fit.
    PORT: '0',
    LOG_LEVEL: settings.logLevel,
    INTERNAL_TOKEN_SECRET: settings.internalTokenSecret,
    DISTRIBUTOR_URL: distributorUrl,
    DATA_DIR: settings.dataDir,
  });
  if (service.role === 'distributor') env.PORT = String(settings.distributorPort);
  if (service.role === 'gateway') {
    env.PORT = String(settings.gatewayPort);
    env.HTTPS_PORT = String(settings.gatewayHttpsPort);
    // Metrics and internal routes: never on the ports clients call, and only reachable from this machine.
    env.ADMIN_PORT = String(settings.gatewayAdminPort);
    env.ADMIN_HOST = '127.0.0.1';
  }
  // The status page as a user opens it (slack-bot links it from every alert), unless set.
  if (!env.STATUS_PAGE_URL && settings.gatewayPort !== 0) {
    env.STATUS_PAGE_URL = `http://127.0.0.1:${settings.gatewayPort}/status`;
  }
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  if (settings.redisUrl) env.REDIS_URL = settings.redisUrl;
  return env;
}
