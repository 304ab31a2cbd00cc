import { mkdirSync } from 'node:fs';
import path from 'node:path';

export interface EmbeddedPostgres {
  /** A postgres:// URL that the ordinary `pg` driver connects to. */
  url: string;
  close(): Promise<void>;
}

/**
 * PGlite (Postgres compiled to WebAssembly) served on a loopback port by pglite-socket, so the very
 * same `pg` code runs with no server installed. It is one engine behind a multiplexer: while one
 * connection is inside a transaction the others wait, so it is correct, only serialized.
 * `dataDir` 'memory' keeps everything in memory (tests); otherwise data survives restarts.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  maxConnections: number,
): Promise<EmbeddedPostgres> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  let db: InstanceType<typeof PGlite>;
  if (dataDir === 'memory') {
    db = await PGlite.create();
  } else {
    mkdirSync(path.dirname(dataDir), { recursive: true });
    db = await PGlite.create(dataDir);
  }
  // Without maxConnections the server accepts one connection and cuts off the rest of a pool.
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections });
  await server.start();
  return {
    url: `postgres://postgres@${server.getServerConn()}/postgres`,
    async close() {
      await server.stop();
      await db.close();
    },
  };
}
