import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PgliteServer } from './pglite-server';

export interface EmbeddedPostgres {
  /** A postgres:// URL that the ordinary `pg` driver connects to. */
  url: string;
  close(): Promise<void>;
}

/**
 * Postgres's stock shared_buffers (128 MB), which PGlite touches at start, is far more than a service's data needs:
 * 8 MB keeps each engine some 130 MB smaller. The same settings as the runner's embedded databases
 * (EMBEDDED_POSTGRES_SETTINGS in packages/runner/src/embedded-postgres.ts).
 */
const LEAN_SETTINGS = ['-c', 'shared_buffers=8MB', '-c', 'maintenance_work_mem=16MB'];

/**
 * PGlite (Postgres compiled to WebAssembly) served on a loopback port (./pglite-server), so the very
 * same `pg` code runs with no server installed. It is one engine behind a multiplexer: requests take
 * turns and a transaction keeps the engine until it ends, so it is correct, only serialized.
 * `dataDir` 'memory' keeps everything in memory (tests); otherwise data survives restarts.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  maxConnections: number,
): Promise<EmbeddedPostgres> {
  const { PGlite } = await import('@electric-sql/pglite');
  const startParams = [...PGlite.defaultStartParams, ...LEAN_SETTINGS];
  let db: InstanceType<typeof PGlite>;
  if (dataDir === 'memory') {
    db = await PGlite.create({ startParams });
  } else {
    mkdirSync(path.dirname(dataDir), { recursive: true });
    db = await PGlite.create(dataDir, { startParams });
  }
  const server = new PgliteServer(db, { host: '127.0.0.1', port: 0, maxConnections });
  const port = await server.start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async close() {
      await server.stop();
      await db.close();
    },
  };
}
