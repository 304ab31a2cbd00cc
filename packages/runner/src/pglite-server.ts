/**
 * Embedded Postgres for the services that have a database: PGlite can be opened by one process
 * only, so this process opens it and serves it over the Postgres wire protocol; the instances
 * connect to it as to any Postgres server. One process may hold several databases (one per
 * service): each is an engine of its own on a data folder and a port of its own, so no service
 * sees another's tables, and they only share the process (one Node, one event loop).
 *
 *   node pglite-server.js --database member=<dir> [--database product=<dir> …] [--name databases]
 *                         [--port member=0 …] [--max-connections 16] [--setting shared_buffers=8MB …]
 *
 * It speaks the runner's IPC contract ('listening', then 'ready'); the ready message's `urls` maps
 * each service to its postgres:// URL (and `url` is the first of them).
 *
 * Memory (docs/performance.md, footprint): a data folder seen for the first time is initialised by a
 * short-lived copy of this script (`--init-only`), because PGlite's initdb leaves some 480 MB in the
 * process that ran it even after closing (other new folders of the same start are copies of that one);
 * `--setting`s (the runner passes lean ones, see
 * embedded-postgres.ts) go to Postgres as `-c name=value`, on top of PGlite's own start parameters.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { PgliteServer, processAlive } from '@msa/service-kit/pglite-server';
import type { KitMessage } from './ipc';

interface Served {
  service: string;
  dataDir: string;
  db: PGlite;
  server: PgliteServer;
  url: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      database: { type: 'string', multiple: true, default: [] },
      name: { type: 'string', default: 'postgres' },
      port: { type: 'string', multiple: true, default: [] },
      'max-connections': { type: 'string', default: '16' },
      setting: { type: 'string', multiple: true, default: [] },
      'init-only': { type: 'string' },
    },
  });
  const startParams = [...PGlite.defaultStartParams, ...values.setting.flatMap(settingParam)];
  if (values['init-only']) {
    // Run by the server below, which holds the folder's lock.
    await (await PGlite.create(values['init-only'], { startParams })).close();
    return;
  }
  const databases = values.database.map((pair) => keyValue('--database', pair));
  if (databases.length === 0) throw new Error('--database <service>=<data dir> is required');
  const ports = new Map(values.port.map((pair) => keyValue('--port', pair)));

  const locks: Array<() => void> = [];
  process.on('exit', () => locks.forEach((release) => release()));
  for (const [, dataDir] of databases) {
    mkdirSync(dataDir, { recursive: true });
    locks.push(lockDataDir(dataDir));
  }
  const fresh = databases
    .map(([, dataDir]) => dataDir)
    .filter((dir) => !existsSync(path.join(dir, 'PG_VERSION')));
  if (fresh.length > 0) {
    console.log(`initialising ${fresh[0]}`);
    await initInChild(fresh[0]!, values.setting);
    // A cleanly closed, empty cluster: the others start as copies of it, rather than each running initdb.
    for (const dataDir of fresh.slice(1)) {
      console.log(`initialising ${dataDir} (a copy of the empty ${fresh[0]})`);
      cpSync(fresh[0]!, dataDir, {
        recursive: true,
        filter: (source) => path.basename(source) !== LOCK_FILE,
      });
    }
  }

  const served: Served[] = [];
  let closing: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    (closing ??= (async () => {
      await Promise.all(served.map(({ server }) => server.stop()));
      // Closing flushes PGlite's files; a killed server may leave a data folder needing recovery.
      for (const { db } of served) await db.close();
      process.exit(0);
    })());
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // The runner is gone (crashed or killed): do not keep the data folders open as an orphan.
  process.on('disconnect', shutdown);

  for (const [service, dataDir] of databases) {
    const db = await PGlite.create(dataDir, { startParams });
    const server = new PgliteServer(db, {
      host: '127.0.0.1',
      port: Number(ports.get(service) ?? 0),
      maxConnections: Number(values['max-connections']),
    });
    const port = await server.start();
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    served.push({ service, dataDir, db, server, url });
    console.log(`serving ${dataDir} at ${url}`);
  }

  const message = {
    service: values.name,
    instanceId: `${values.name}-${hostname()}-${process.pid}`,
    pid: process.pid,
    url: served[0]!.url,
    urls: Object.fromEntries(served.map(({ service, url }) => [service, url])),
  };
  process.send?.({ type: 'listening', ...message } satisfies KitMessage);
  process.send?.({ type: 'ready', ...message } satisfies KitMessage);
}

function keyValue(option: string, pair: string): [string, string] {
  const at = pair.indexOf('=');
  if (at <= 0) throw new Error(`${option} ${pair}: expected <service>=<value>`);
  return [pair.slice(0, at), pair.slice(at + 1)];
}

/** `name=value` to Postgres's `-c name=value`; refuses anything else rather than pass a stray flag on. */
function settingParam(setting: string): string[] {
  if (!/^[a-z_]+=[A-Za-z0-9_.]+$/.test(setting)) throw new Error(`--setting ${setting}: expected name=value`);
  return ['-c', setting];
}

/** initdb in a process of its own, which takes the memory initdb leaves behind with it when it exits. */
function initInChild(dataDir: string, settings: string[]): Promise<void> {
  const args = [__filename, '--init-only', dataDir, ...settings.flatMap((setting) => ['--setting', setting])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`initialising ${dataDir} failed (${signal ?? `code ${code}`})`)),
    );
  });
}

const LOCK_FILE = 'msa-runner.lock';

/**
 * Two processes writing one PGlite folder corrupt it (a second `npm start`, say), so the folder is
 * claimed with a lock file holding our pid; a lock whose process is gone is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const lockFile = path.join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      return () => rmSync(lockFile, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(lockFile, 'utf8'));
      if (processAlive(owner))
        throw new Error(`${dataDir} is in use by process ${owner} (another npm start?)`);
      rmSync(lockFile, { force: true });
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}

main().catch((err: Error) => {
  console.error(`embedded postgres failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
