import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Client } from 'pg';
import { InternalTokens } from '../auth/internal-token';
import { startEmbeddedPostgres } from '../data/embedded-postgres';
import { createLogger, type Logger } from '../log/logger';

export { startService } from '../service/start-service';

/** The internal-token secret every test uses (tests only; a deployment generates its own). */
export const TEST_SECRET = 'test-secret-test-secret-test-secret-0123456789';

/**
 * Environment for a service started in a test: quiet logs, embedded in-memory database unless a
 * DATABASE_URL is given, standalone (no distributor) unless one is given, Redis only when CI set
 * REDIS_URL — with a key prefix of its own so parallel test files never see each other's keys.
 */
export function testEnv(
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    NODE_ENV: 'test',
    INTERNAL_TOKEN_SECRET: TEST_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATA_DIR: 'memory',
    HOST: '127.0.0.1',
    PORT: '0',
    DISTRIBUTOR_URL: '',
    REDIS_URL: process.env.REDIS_URL,
    REDIS_KEY_PREFIX: uniquePrefix(),
    SHUTDOWN_TIMEOUT_MS: '2000',
    ...overrides,
  };
}

export const uniquePrefix = () => `test:${randomBytes(4).toString('hex')}:`;

export interface TestDatabase {
  /** undefined → the service uses its embedded in-memory PGlite. */
  url: string | undefined;
  drop(): Promise<void>;
}

/**
 * One fresh database per test file: a new database on the server DATABASE_URL names (CI's real
 * Postgres), or the embedded default when none is configured. Same tests either way.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) return { url: undefined, drop: async () => undefined };
  const name = `msa_test_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new Client({ connectionString: serverUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export interface SharedTestDatabase {
  url: string;
  close(): Promise<void>;
}

/**
 * One database that several instances of a service in one test share (migration races, two
 * replicas): a fresh database on the real server when DATABASE_URL is set, else one embedded PGlite
 * server taking `maxConnections` clients, as the local runner runs it.
 */
export async function createSharedTestDatabase(maxConnections = 12): Promise<SharedTestDatabase> {
  const db = await createTestDatabase();
  if (db.url) return { url: db.url, close: () => db.drop() };
  const server = await startEmbeddedPostgres('memory', maxConnections);
  return { url: server.url, close: () => server.close() };
}

/** An internal token as another service (or the gateway, for a member) would send it. */
export async function signTestToken(
  claims: { iss?: string; sub?: string; role?: 'customer' | 'admin' } = {},
  secret = TEST_SECRET,
): Promise<string> {
  return new InternalTokens(claims.iss ?? 'gateway', secret).sign({ sub: claims.sub, role: claims.role });
}

/** A response body as JSON, typed loosely on purpose: tests assert on its shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function readJson(res: Response): Promise<any> {
  return res.json();
}

/** A logger whose lines a test reads back, parsed, in the order they were written. */
export function capturedLogger(
  service = 'svc',
  instanceId = `${service}-1`,
): {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
} {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ service, instanceId, level: 'info', destination }), lines };
}
