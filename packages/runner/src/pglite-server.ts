/**
 * One embedded Postgres shared by every instance of a service. PGlite can be opened by one
 * process only, so this process opens it and serves it over the Postgres wire protocol; the
 * instances connect to it as to any Postgres server.
 *
 *   node pglite-server.js --data-dir <dir> [--name purchase-db] [--port 0] [--max-connections 16]
 *
 * It speaks the runner's IPC contract ('listening', then 'ready' with the postgres:// URL).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { PgliteServer } from '@msa/service-kit/pglite-server';
import type { KitMessage } from './ipc';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      name: { type: 'string', default: 'postgres' },
      port: { type: 'string', default: '0' },
      'max-connections': { type: 'string', default: '16' },
    },
  });
  const dataDir = values['data-dir'];
  if (!dataDir) throw new Error('--data-dir is required');
  mkdirSync(dataDir, { recursive: true });
  const releaseLock = lockDataDir(dataDir);
  process.on('exit', releaseLock);

  const db = await PGlite.create(dataDir);
  const server = new PgliteServer(db, {
    host: '127.0.0.1',
    port: Number(values.port),
    maxConnections: Number(values['max-connections']),
  });
  const port = await server.start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const message = {
    service: values.name!,
    instanceId: `${values.name}-${hostname()}-${process.pid}`,
    pid: process.pid,
    url,
  };
  console.log(`serving ${dataDir} at ${url}`);

  let closing: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    (closing ??= (async () => {
      await server.stop();
      // Closing flushes PGlite's files; a killed server may leave the data folder needing recovery.
      await db.close();
      process.exit(0);
    })());
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // The runner is gone (crashed or killed): do not keep the data folder open as an orphan.
  process.on('disconnect', shutdown);

  process.send?.({ type: 'listening', ...message } satisfies KitMessage);
  process.send?.({ type: 'ready', ...message } satisfies KitMessage);
}

/**
 * Two processes writing one PGlite folder corrupt it (a second `npm start`, say), so the folder is
 * claimed with a lock file holding our pid; a lock whose process is gone is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const lockFile = path.join(dataDir, 'msa-runner.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      return () => rmSync(lockFile, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(lockFile, 'utf8'));
      if (isAlive(owner)) throw new Error(`${dataDir} is in use by process ${owner} (another npm start?)`);
      rmSync(lockFile, { force: true });
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

main().catch((err: Error) => {
  console.error(`embedded postgres failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
