import { existsSync } from 'node:fs';
import path from 'node:path';
import { SupervisedProcess, type InstanceInfo, type RestartPolicy } from './process';
import { MAX_INSTANCES } from './services';

/** The built server script; under Jest (running src/) the compiled one in dist/. */
export function pgliteServerScript(): string {
  const beside = path.join(__dirname, 'pglite-server.js');
  return existsSync(beside) ? beside : path.join(__dirname, '..', 'dist', 'pglite-server.js');
}

export interface EmbeddedDatabase {
  service: string;
  /** The PGlite data folder, e.g. <repo>/.data/<service>/pgdata. */
  dataDir: string;
  /** How many instances connect at start; each gets room for a pool of 16 connections (see maxConnections). */
  instances?: number;
}

export interface EmbeddedPostgresOptions {
  /** The databases this one process serves, an engine and a port each (default: the one named below). */
  databases?: EmbeddedDatabase[];
  /** One database: the service it is for, its folder, its instances. */
  service?: string;
  dataDir?: string;
  instances?: number;
  /** How it is named in output: `<service>-db` for one database, `databases` for several. */
  name?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  readyTimeoutMs?: number;
  stopTimeoutMs?: number;
  restart: RestartPolicy;
  /** Postgres settings (`name=value`) on top of PGlite's own; default EMBEDDED_POSTGRES_SETTINGS. */
  settings?: readonly string[];
}

/**
 * Settings that keep an embedded engine small (docs/performance.md, footprint). PGlite starts with Postgres's
 * stock shared_buffers, 128 MB, which it touches at start: with 8 MB (and wal_buffers following it to 256 kB)
 * an engine holds some 130 MB less. The services' data is far smaller, and the OS's page cache still keeps
 * the files in memory; the footprint part of `npm run bench` measures the throughput against PGlite's defaults.
 * maintenance_work_mem caps what CREATE INDEX in a migration may take (64 MB stock).
 */
export const EMBEDDED_POSTGRES_SETTINGS: readonly string[] = [
  'shared_buffers=8MB',
  'maintenance_work_mem=16MB',
];

const CONNECTIONS_PER_INSTANCE = 16;

/**
 * Room for every instance the service may ever have, not only those planned at start: addInstance (tests,
 * benchmarks) adds more later, and a server started with too few refuses their pools ("Too many connections").
 * The limit is only a count; an unused slot costs nothing.
 */
export function maxConnections(plannedInstances = 1): number {
  return CONNECTIONS_PER_INSTANCE * Math.max(MAX_INSTANCES, plannedInstances);
}

/**
 * A supervised process serving one embedded Postgres per service given. Its `ready` info carries `urls`
 * (service → postgres:// URL; `url` is the first). After a crash it comes back on the same ports, so the
 * instances' DATABASE_URL stays valid.
 */
export function createEmbeddedPostgres(options: EmbeddedPostgresOptions): SupervisedProcess {
  const databases =
    options.databases ??
    (options.service && options.dataDir
      ? [{ service: options.service, dataDir: options.dataDir, instances: options.instances }]
      : []);
  if (databases.length === 0) throw new Error('an embedded Postgres needs at least one database');
  const lastPorts = new Map<string, string>();
  const name = options.name ?? (databases.length === 1 ? `${databases[0]!.service}-db` : 'databases');
  const planned = Math.max(...databases.map((db) => db.instances ?? 1));
  const server = new SupervisedProcess({
    service: name,
    index: 1,
    label: name,
    script: pgliteServerScript(),
    args: () => [
      '--name',
      name,
      ...databases.flatMap((db) => ['--database', `${db.service}=${db.dataDir}`]),
      ...[...lastPorts].flatMap(([service, port]) => ['--port', `${service}=${port}`]),
      '--max-connections',
      String(maxConnections(planned)),
      ...(options.settings ?? EMBEDDED_POSTGRES_SETTINGS).flatMap((setting) => ['--setting', setting]),
    ],
    env: { ...(options.env ?? process.env), NODE_ENV: 'development' },
    cwd: options.cwd ?? process.cwd(),
    // Opening a data folder for the first time runs initdb inside WASM: give it more time than a service.
    readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
    stopTimeoutMs: options.stopTimeoutMs ?? 15_000,
    restart: options.restart,
  });
  server.on('ready', (info: InstanceInfo) => {
    for (const [service, url] of Object.entries(databaseUrls(info)))
      lastPorts.set(service, new URL(url).port);
  });
  return server;
}

/** service → postgres:// URL, from an embedded server's ready info. */
export function databaseUrls(info: InstanceInfo): Record<string, string> {
  const urls = info.ready?.urls;
  return typeof urls === 'object' && urls !== null ? (urls as Record<string, string>) : {};
}
