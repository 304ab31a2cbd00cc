import { existsSync } from 'node:fs';
import path from 'node:path';
import { SupervisedProcess, type RestartPolicy } from './process';
import { MAX_INSTANCES } from './services';

/** The built server script; under Jest (running src/) the compiled one in dist/. */
export function pgliteServerScript(): string {
  const beside = path.join(__dirname, 'pglite-server.js');
  return existsSync(beside) ? beside : path.join(__dirname, '..', 'dist', 'pglite-server.js');
}

export interface EmbeddedPostgresOptions {
  service: string;
  /** The PGlite data folder, e.g. <repo>/.data/<service>/pgdata. */
  dataDir: string;
  /** How many instances connect at start; each gets room for a pool of 16 connections (see maxConnections). */
  instances?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  readyTimeoutMs?: number;
  stopTimeoutMs?: number;
  restart: RestartPolicy;
}

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
 * A supervised embedded Postgres for one service. Its `ready` info carries the postgres:// URL.
 * After a crash it comes back on the same port, so the instances' DATABASE_URL stays valid.
 */
export function createEmbeddedPostgres(options: EmbeddedPostgresOptions): SupervisedProcess {
  let lastPort = 0;
  const name = `${options.service}-db`;
  const server = new SupervisedProcess({
    service: name,
    index: 1,
    label: name,
    script: pgliteServerScript(),
    args: () => [
      '--data-dir',
      options.dataDir,
      '--name',
      name,
      '--port',
      String(lastPort),
      '--max-connections',
      String(maxConnections(options.instances)),
    ],
    env: { ...(options.env ?? process.env), NODE_ENV: 'development' },
    cwd: options.cwd ?? process.cwd(),
    // Opening a data folder for the first time runs initdb inside WASM: give it more time than a service.
    readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
    stopTimeoutMs: options.stopTimeoutMs ?? 15_000,
    restart: options.restart,
  });
  server.on('ready', (info: { url?: string }) => {
    if (info.url) lastPort = Number(new URL(info.url).port);
  });
  return server;
}
