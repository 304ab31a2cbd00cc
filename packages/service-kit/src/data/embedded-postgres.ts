import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PgliteServer } from './pglite-server';

export interface EmbeddedPostgres {
  /** A postgres:// URL that the ordinary `pg` driver connects to. */
  url: string;
  close(): Promise<void>;
}

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
  let db: InstanceType<typeof PGlite>;
  if (dataDir === 'memory') {
    db = await PGlite.create();
  } else {
    mkdirSync(path.dirname(dataDir), { recursive: true });
    db = await PGlite.create(dataDir);
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
