import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface FakeServiceOptions {
  /** Writes this to stderr and exits with code 3 before it is ready. */
  failAtStart?: string;
  /** Listens but never says ready. */
  neverReady?: boolean;
  /** Has a migrations/ folder, so it owns a database. */
  database?: boolean;
  /** Ignores SIGTERM, so only SIGKILL stops it. */
  ignoreSigterm?: boolean;
}

/**
 * A service in plain JS that speaks the kit's IPC contract: 'listening', then 'ready'.
 * GET / answers who it is and the environment it got; GET /crash makes it exit with code 1.
 */
function fakeMain(name: string, options: FakeServiceOptions): string {
  return `
const http = require('node:http');
const { hostname } = require('node:os');
const service = ${JSON.stringify(name)};
const instanceId = service + '-' + hostname() + '-' + process.pid + '-' + Math.random().toString(16).slice(2, 6);
${options.failAtStart ? `console.log('starting'); console.error(${JSON.stringify(options.failAtStart)}); process.exit(3);` : ''}
const server = http.createServer((req, res) => {
  if (req.url === '/crash') {
    res.end('bye');
    setTimeout(() => process.exit(1), 5);
    return;
  }
  const e = process.env;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ service, instanceId, pid: process.pid, env: {
    NODE_ENV: e.NODE_ENV, HOST: e.HOST, PORT: e.PORT, HTTPS_PORT: e.HTTPS_PORT, DATA_DIR: e.DATA_DIR,
    DISTRIBUTOR_URL: e.DISTRIBUTOR_URL, DATABASE_URL: e.DATABASE_URL, REDIS_URL: e.REDIS_URL,
    INTERNAL_TOKEN_SECRET: e.INTERNAL_TOKEN_SECRET, LOG_LEVEL: e.LOG_LEVEL,
    REDIS_KEY_PREFIX: e.REDIS_KEY_PREFIX, SEED_CATALOG: e.SEED_CATALOG, SLACK_WEBHOOK_URL: e.SLACK_WEBHOOK_URL } }));
});
server.listen(Number(process.env.PORT), process.env.HOST, () => {
  const url = 'http://' + process.env.HOST + ':' + server.address().port;
  const message = { service, instanceId, pid: process.pid, url };
  process.send({ type: 'listening', ...message });
  console.log(service + ' pid ' + process.pid + ' listening on ' + url);
  ${options.neverReady ? '' : "setTimeout(() => process.send({ type: 'ready', ...message }), 10);"}
});
process.on('SIGTERM', () => {
  ${options.ignoreSigterm ? "console.log('ignoring SIGTERM'); return;" : ''}
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
// The runner is gone: leave too (the behaviour asked of the kit).
process.on('disconnect', () => process.exit(0));
`;
}

export function makeRoot(services: Record<string, FakeServiceOptions>): { rootDir: string; cleanup(): void } {
  const rootDir = mkdtempSync(path.join(tmpdir(), 'msa-runner-'));
  for (const [name, options] of Object.entries(services)) addService(rootDir, name, options);
  return { rootDir, cleanup: () => rmSync(rootDir, { recursive: true, force: true }) };
}

export function addService(rootDir: string, name: string, options: FakeServiceOptions = {}): void {
  const dir = path.join(rootDir, 'services', name);
  mkdirSync(path.join(dir, 'dist'), { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `@msa/${name}`, private: true }));
  writeFileSync(path.join(dir, 'dist', 'main.js'), fakeMain(name, options));
  if (options.database) mkdirSync(path.join(dir, 'migrations'), { recursive: true });
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The environment a test system runs with: free ports for the fixed-port services. */
export function testEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DISTRIBUTOR_PORT: '0',
    GATEWAY_HTTP_PORT: '0',
    GATEWAY_HTTPS_PORT: '0',
    GATEWAY_ADMIN_PORT: '0',
    ...extra,
  };
}
