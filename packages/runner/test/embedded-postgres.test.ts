import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Pool } from 'pg';
import { createEmbeddedPostgres, databaseUrls, EMBEDDED_POSTGRES_SETTINGS } from '../src/embedded-postgres';
import { defaultRestartPolicy, type InstanceInfo } from '../src/process';
import { isAlive } from './fake-services';

describe('embedded Postgres server', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'msa-pglite-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  test('when a pool opens 4 connections at once, then all 4 are served and see the same data', async () => {
    const server = createEmbeddedPostgres({ service: 'shop', dataDir, restart: defaultRestartPolicy });
    const { url, pid } = await server.start();
    const pool = new Pool({ connectionString: url, max: 4 });
    try {
      await pool.query('CREATE TABLE hits (n int)');
      const clients = await Promise.all([1, 2, 3, 4].map(() => pool.connect()));
      expect(pool.totalCount).toBe(4);
      // All four are held open together, each writing while the others wait on theirs.
      await Promise.all(clients.map((client, i) => client.query('INSERT INTO hits VALUES ($1)', [i])));
      for (const client of clients) client.release();
      const { rows } = await pool.query<{ count: string }>('SELECT count(*) FROM hits');
      expect(rows[0]!.count).toBe('4');
    } finally {
      await pool.end();
      await server.stop();
    }
    expect(isAlive(pid)).toBe(false);
  });

  test('when planned for one instance, then it still takes the pools of instances added later (42 connections)', async () => {
    const server = createEmbeddedPostgres({
      service: 'shop',
      dataDir,
      instances: 1,
      restart: defaultRestartPolicy,
    });
    const { url } = await server.start();
    // Three instances' worth of pools: more than one planned instance's 16 connections.
    const pools = [1, 2, 3].map(() => new Pool({ connectionString: url, max: 14 }));
    try {
      const clients = await Promise.all(
        pools.flatMap((pool) => Array.from({ length: 14 }, () => pool.connect())),
      );
      expect(clients).toHaveLength(42);
      for (const client of clients) client.release();
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
      await server.stop();
    }
  });

  test('when the server is stopped and started again, then the data is still there', async () => {
    const server = createEmbeddedPostgres({ service: 'shop', dataDir, restart: defaultRestartPolicy });
    const first = await server.start();
    const pool = new Pool({ connectionString: first.url, max: 1 });
    await pool.query("CREATE TABLE notes (text text); INSERT INTO notes VALUES ('kept')");
    await pool.end();
    await server.stop();

    const second = await server.start();
    const again = new Pool({ connectionString: second.url, max: 1 });
    try {
      const { rows } = await again.query<{ text: string }>('SELECT text FROM notes');
      expect(rows).toEqual([{ text: 'kept' }]);
    } finally {
      await again.end();
      await server.stop();
    }
  });

  test('when the server crashes, then it comes back on the same port', async () => {
    const server = createEmbeddedPostgres({
      service: 'shop',
      dataDir,
      restart: { ...defaultRestartPolicy, initialDelayMs: 10 },
    });
    const first = await server.start();
    try {
      const back = new Promise<{ url?: string }>((resolve) => server.once('ready', resolve));
      await server.kill('SIGKILL');
      const second = await back;
      expect(second.url).toBe(first.url);
      const pool = new Pool({ connectionString: second.url, max: 1 });
      await expect(pool.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
      await pool.end();
    } finally {
      await server.stop();
    }
  });
});

describe('several embedded databases in one process', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'msa-pglite-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('when two services share the process, then each has its own port and data, kept across a restart and a crash', async () => {
    const server = createEmbeddedPostgres({
      databases: [
        { service: 'shop', dataDir: path.join(root, 'shop', 'pgdata') },
        { service: 'stock', dataDir: path.join(root, 'stock', 'pgdata') },
      ],
      restart: { ...defaultRestartPolicy, initialDelayMs: 10 },
    });
    const first = await server.start();
    expect(server.label).toBe('databases');
    const urls = databaseUrls(first);
    expect(Object.keys(urls)).toEqual(['shop', 'stock']);
    expect(urls.shop).not.toBe(urls.stock);
    const query = async (url: string, sql: string): Promise<unknown[]> => {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(sql)).rows;
      } finally {
        await client.end();
      }
    };
    try {
      await query(urls.shop!, "CREATE TABLE orders (item text); INSERT INTO orders VALUES ('tea')");
      // The second database was made as a copy of the first while both were empty: it has no such table.
      await expect(query(urls.stock!, 'SELECT * FROM orders')).rejects.toThrow(
        'relation "orders" does not exist',
      );

      await server.stop();
      const again = databaseUrls(await server.start());
      expect(await query(again.shop!, 'SELECT item FROM orders')).toEqual([{ item: 'tea' }]);

      const back = new Promise<InstanceInfo>((resolve) => server.once('ready', resolve));
      await server.kill('SIGKILL');
      expect(databaseUrls(await back)).toEqual(again);
      expect(await query(again.shop!, 'SELECT item FROM orders')).toEqual([{ item: 'tea' }]);
    } finally {
      await server.stop();
    }
  });

  test('when an engine setting is given, then the engine runs with it; by default with the lean ones', async () => {
    const lean = createEmbeddedPostgres({
      service: 'shop',
      dataDir: path.join(root, 'lean'),
      restart: defaultRestartPolicy,
    });
    const tuned = createEmbeddedPostgres({
      service: 'shop',
      dataDir: path.join(root, 'tuned'),
      settings: ['shared_buffers=16MB'],
      restart: defaultRestartPolicy,
    });
    try {
      const [leanInfo, tunedInfo] = await Promise.all([lean.start(), tuned.start()]);
      const show = async (url: string): Promise<string> => {
        const client = new Client({ connectionString: url });
        await client.connect();
        const { rows } = await client.query<{ shared_buffers: string }>('SHOW shared_buffers');
        await client.end();
        return rows[0]!.shared_buffers;
      };
      expect(EMBEDDED_POSTGRES_SETTINGS).toContain('shared_buffers=8MB');
      expect(await show(leanInfo.url!)).toBe('8MB');
      expect(await show(tunedInfo.url!)).toBe('16MB');
    } finally {
      await Promise.all([lean.stop(), tuned.stop()]);
    }
  });
});

describe('embedded Postgres data folder', () => {
  test('when a second server opens a folder already being served, then it refuses and names the owner', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'msa-pglite-'));
    const first = createEmbeddedPostgres({ service: 'shop', dataDir, restart: defaultRestartPolicy });
    const second = createEmbeddedPostgres({ service: 'shop', dataDir, restart: defaultRestartPolicy });
    try {
      const { pid } = await first.start();
      await expect(second.start()).rejects.toThrow(
        'shop-db could not start: it exited with code 1 before it was ready',
      );
      expect(second.lastLines().join('\n')).toContain(
        `${dataDir} is in use by process ${pid} (another npm start?)`,
      );
    } finally {
      await first.stop();
      await second.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
