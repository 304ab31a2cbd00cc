import { Client } from 'pg';
import { startEmbeddedPostgres, startService } from '../src';
import {
  createSharedTestDatabase,
  signTestToken,
  testEnv,
  type SharedTestDatabase,
  readJson,
} from '../src/testing';
import { notesService } from './fixtures/notes-service';

// Runs on CI's real Postgres when DATABASE_URL is set, on embedded PGlite otherwise: same assertions.
describe(`data layer (${process.env.DATABASE_URL ? 'Postgres' : 'embedded PGlite'})`, () => {
  let db: SharedTestDatabase;
  let url: string;

  beforeAll(async () => {
    // Several instances need one database to share.
    db = await createSharedTestDatabase(12);
    url = db.url;
  });
  afterAll(() => db.close());

  it('when two instances start at the same moment on a fresh database, then both come up and migrations ran once', async () => {
    const [a, b] = await Promise.all([
      startService(notesService, { env: testEnv({ DATABASE_URL: url }), waitReady: true }),
      startService(notesService, { env: testEnv({ DATABASE_URL: url }), waitReady: true }),
    ]);
    try {
      const client = new Client({ connectionString: url });
      await client.connect();
      const versions = (await client.query('SELECT version FROM schema_migrations ORDER BY version')).rows;
      const notes = (await client.query('SELECT body FROM notes')).rows;
      await client.end();
      expect(versions.map((r) => r.version)).toEqual(['001_create_notes', '002_seed_notes']);
      expect(notes).toEqual([{ body: 'first' }]);

      const token = await signTestToken();
      const headers = { 'content-type': 'application/json', 'x-internal-token': token };
      const wrote = await fetch(`${a.url}/notes`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ body: 'from a' }),
      });
      expect(wrote.status).toBe(201);
      const read = await readJson(await fetch(`${b.url}/notes`, { headers }));
      expect(read.map((n: { body: string }) => n.body)).toEqual(['first', 'from a']);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('when a pool runs many queries at once, then all succeed (multiplexed on the embedded engine)', async () => {
    const svc = await startService(notesService, {
      env: testEnv({ DATABASE_URL: url, PG_POOL_MAX: '8' }),
      waitReady: true,
    });
    try {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => svc.ctx.db.query('SELECT $1::int AS n, pg_sleep(0.001)', [i])),
      );
      expect(results.map((r) => r.rows[0].n)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    } finally {
      await svc.stop();
    }
  });

  it('when different parameterized statements run at once, then each gets its own answer', async () => {
    const svc = await startService(notesService, {
      env: testEnv({ DATABASE_URL: url, PG_POOL_MAX: '8' }),
      waitReady: true,
    });
    try {
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          i % 2
            ? svc.ctx.db.query('SELECT $1::int * 2 AS n', [i])
            : svc.ctx.db.query("SELECT $1::text || '-' || $2::text AS n", [String(i), 'x']),
        ),
      );
      expect(results.map((r) => r.rows[0].n)).toEqual(
        Array.from({ length: 60 }, (_, i) => (i % 2 ? i * 2 : `${i}-x`)),
      );
    } finally {
      await svc.stop();
    }
  });

  it('when the service runs with no DATABASE_URL, then it starts its own embedded database', async () => {
    const svc = await startService(notesService, {
      env: testEnv({ DATABASE_URL: undefined }),
      waitReady: true,
    });
    try {
      const { rows } = await svc.ctx.db.query('SELECT body FROM notes');
      expect(rows).toEqual([{ body: 'first' }]);
    } finally {
      await svc.stop();
    }
  });

  it('when the kit starts an embedded engine, then it runs with the lean settings (8 MB of shared buffers)', async () => {
    const own = await startEmbeddedPostgres('memory', 2);
    const client = new Client({ connectionString: own.url });
    try {
      await client.connect();
      const { rows } = await client.query<{ shared_buffers: string }>('SHOW shared_buffers');
      expect(rows).toEqual([{ shared_buffers: '8MB' }]);
    } finally {
      await client.end();
      await own.close();
    }
  });

  it('when the database goes away, then readiness says 503 quickly and live stays 200', async () => {
    const own = await startEmbeddedPostgres('memory', 6);
    const svc = await startService(notesService, {
      env: testEnv({ DATABASE_URL: own.url, PG_POOL_MAX: '2' }),
      waitReady: true,
    });
    try {
      expect((await fetch(`${svc.url}/health/ready`)).status).toBe(200);
      await own.close();
      const started = Date.now();
      const ready = await fetch(`${svc.url}/health/ready`);
      expect(ready.status).toBe(503);
      expect((await readJson(ready)).checks.postgres).toBe('down');
      expect(Date.now() - started).toBeLessThan(5000); // bounded by the check timeout, not a hang
      expect((await fetch(`${svc.url}/health/live`)).status).toBe(200);
      const query = await fetch(`${svc.url}/notes`, {
        headers: { 'x-internal-token': await signTestToken() },
      });
      expect(query.status).toBe(503);
      expect((await readJson(query)).code).toBe('DATABASE_UNAVAILABLE');
    } finally {
      await svc.stop();
    }
  });
});
