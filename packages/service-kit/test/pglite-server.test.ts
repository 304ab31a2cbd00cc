// The embedded engine's multiplexer: many `pg` connections on one PGlite session, each request whole,
// each transaction alone, and nobody stalled by a connection that leaves or hangs.
import { PGlite } from '@electric-sql/pglite';
import { Client, Pool } from 'pg';
import { PgliteServer } from '../src/data/pglite-server';

let db: PGlite;
let server: PgliteServer;
let url: string;

beforeAll(async () => {
  db = await PGlite.create();
  server = new PgliteServer(db, { maxConnections: 40, idleInTransactionMs: 1000 });
  url = `postgres://postgres@127.0.0.1:${await server.start()}/postgres`;
  await db.exec('CREATE TABLE t (id int PRIMARY KEY, v text)');
}, 60_000);

afterAll(async () => {
  await server.stop();
  await db.close();
});

test('parameterised queries and transactions from three pools at once: every answer is its own', async () => {
  const pools = [1, 2, 3].map(() => new Pool({ connectionString: url, max: 8 }));
  const wrong: string[] = [];
  try {
    await Promise.all(
      pools.flatMap((pool, p) =>
        Array.from({ length: 8 }, async (_, w) => {
          for (let i = 0; i < 40; i++) {
            const n = p * 100_000 + w * 1000 + i;
            if (i % 4 === 0) {
              const client = await pool.connect();
              try {
                await client.query('BEGIN');
                await client.query('INSERT INTO t VALUES ($1, $2)', [n, `x${n}`]);
                const { rows } = await client.query('SELECT v FROM t WHERE id = $1', [n]);
                if (rows[0]?.v !== `x${n}`) wrong.push(`tx ${n}: ${JSON.stringify(rows)}`);
                await client.query('COMMIT');
              } finally {
                client.release();
              }
            } else {
              const { rows } = await pool.query('SELECT $1::int + 1 AS v, $2::text AS s', [n, `s${n}`]);
              if (rows[0]?.v !== n + 1 || rows[0]?.s !== `s${n}`) wrong.push(`${n}: ${JSON.stringify(rows)}`);
            }
          }
        }),
      ),
    );
  } finally {
    await Promise.all(pools.map((pool) => pool.end()));
  }
  expect(wrong).toEqual([]);
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM t');
  expect(rows[0]!.n).toBe(3 * 8 * 10);
}, 60_000);

test('a connection that leaves inside its transaction: rolled back, and the others go on at once', async () => {
  const leaver = new Client({ connectionString: url });
  await leaver.connect();
  leaver.on('error', () => undefined);
  await leaver.query('BEGIN');
  await leaver.query('INSERT INTO t VALUES (-1, $1)', ['left behind']);
  const other = new Pool({ connectionString: url, max: 2 });
  try {
    // Waits for the engine, held by the open transaction…
    const waiting = other.query('SELECT count(*)::int AS n FROM t WHERE id = -1');
    // …until the holder's socket goes away without a word.
    (leaver as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    const { rows } = await waiting;
    expect(rows[0].n).toBe(0);
  } finally {
    await other.end();
  }
});

test('a connection idle inside its transaction is cut off after idleInTransactionMs; the others go on', async () => {
  const idler = new Client({ connectionString: url });
  const idlerError = new Promise<Error>((resolve) => idler.on('error', resolve));
  await idler.connect();
  await idler.query('BEGIN');
  await idler.query('INSERT INTO t VALUES (-2, $1)', ['never committed']);
  const other = new Client({ connectionString: url });
  await other.connect();
  try {
    const { rows } = await other.query('SELECT count(*)::int AS n FROM t WHERE id = -2');
    expect(rows[0].n).toBe(0);
    expect((await idlerError).message).toMatch(/idle-in-transaction timeout|Connection terminated/);
  } finally {
    await other.end();
    await idler.end().catch(() => undefined);
  }
});

test('an error inside a transaction keeps it to its connection until ROLLBACK; a bad statement harms nobody', async () => {
  const a = new Client({ connectionString: url });
  const b = new Client({ connectionString: url });
  await Promise.all([a.connect(), b.connect()]);
  try {
    await a.query('BEGIN');
    await expect(a.query('SELECT * FROM no_such_table WHERE id = $1', [1])).rejects.toThrow(/no_such_table/);
    const bAnswer = b.query('SELECT 1 AS one');
    await a.query('ROLLBACK');
    expect((await bAnswer).rows[0].one).toBe(1);
    await expect(b.query('SELEC nonsense')).rejects.toThrow(/syntax/);
    expect((await a.query('SELECT $1::text AS s', ['fine'])).rows[0].s).toBe('fine');
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
});

test('connections past maxConnections are refused with "too many clients", the rest keep working', async () => {
  const clients = Array.from({ length: 45 }, () => new Client({ connectionString: url }));
  const results = await Promise.allSettled(clients.map((c) => c.connect()));
  const refused = results.filter((r) => r.status === 'rejected');
  expect(refused.length).toBeGreaterThanOrEqual(5);
  expect(String((refused[0] as PromiseRejectedResult).reason)).toMatch(/too many clients/);
  await Promise.all(clients.map((c, i) => (results[i]!.status === 'fulfilled' ? c.end() : undefined)));
  const after = new Client({ connectionString: url });
  await after.connect();
  expect((await after.query('SELECT 2 AS two')).rows[0].two).toBe(2);
  await after.end();
});
