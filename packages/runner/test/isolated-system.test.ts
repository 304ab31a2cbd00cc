import { existsSync, readdirSync, realpathSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { deleteRedisKeys, dropDatabases, freePort, startIsolatedSystem } from '../src';
import { isAlive, makeRoot } from './fake-services';

const DATABASE_URL = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL;

const roots: { cleanup(): void }[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) root.cleanup();
});

function fakeServices(services: Parameters<typeof makeRoot>[0]): string {
  const root = makeRoot(services);
  roots.push(root);
  return path.join(root.rootDir, 'services');
}

async function databasesLike(prefix: string): Promise<string[]> {
  const admin = new Client({ connectionString: DATABASE_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY datname',
      [`${prefix.replace(/_/g, '\\_')}\\_%`],
    );
    return rows.map((r) => r.datname);
  } finally {
    await admin.end();
  }
}

async function withRedis<T>(use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

async function whoIs(url: string): Promise<{ env: Record<string, string> }> {
  return (await (await fetch(url)).json()) as { env: Record<string, string> };
}

const rootsNamed = (name: string) => readdirSync(tmpdir()).filter((f) => f.startsWith(`msa-${name}-`));

describe('startIsolatedSystem', () => {
  test('when an isolated system runs and stops, then it had a root, port, databases and keys of its own, and none is left', async () => {
    const servicesDir = fakeServices({ distributor: {}, member: { database: true } });
    const iso = await startIsolatedSystem({ name: 'isotest', servicesDir, quiet: true });
    const { system, env, rootDir, databasePrefix, redisKeyPrefix } = iso;
    const outsideKey = `isotest:${process.pid}:outside`;
    try {
      expect(path.basename(rootDir)).toMatch(/^msa-isotest-/);
      expect(realpathSync(path.join(rootDir, 'services'))).toBe(realpathSync(servicesDir));
      expect(databasePrefix).toMatch(new RegExp(`^isotest_${process.pid}_[0-9a-f]{6}$`));
      expect(redisKeyPrefix).toBe(`isotest:${databasePrefix.slice('isotest_'.length)}:`);
      expect(Number(env.DISTRIBUTOR_PORT)).toBeGreaterThan(0);
      expect(new URL(system.distributorUrl!).port).toBe(env.DISTRIBUTOR_PORT);
      expect(env.INTERNAL_TOKEN_SECRET).toBe(system.internalTokenSecret);
      const member = await whoIs(system.instance('member').url!);
      expect(member.env.REDIS_KEY_PREFIX).toBe(redisKeyPrefix);
      expect(member.env.DATA_DIR).toBe(path.join(rootDir, '.data'));
      if (DATABASE_URL) {
        expect(await databasesLike(databasePrefix)).toEqual([`${databasePrefix}_member`]);
      } else {
        // An empty data folder made once, copied in for the runner's embedded Postgres.
        const templates = readdirSync(tmpdir()).filter(
          (f) => f.startsWith('msa-pgdata-template-') && !f.includes('.building-'),
        );
        expect(templates.some((t) => existsSync(path.join(tmpdir(), t, 'PG_VERSION')))).toBe(true);
        expect(existsSync(path.join(rootDir, '.data', 'member', 'pgdata', 'PG_VERSION'))).toBe(true);
      }
      if (REDIS_URL) {
        await withRedis(async (redis) => {
          await redis.set(`${redisKeyPrefix}a`, '1');
          await redis.set(`${redisKeyPrefix}b:c`, '1');
          await redis.set(outsideKey, '1');
        });
      }
      const pids = [...system.instances, ...system.databaseServers].map((i) => i.pid!);

      await Promise.all([iso.stop(), iso.stop()]);

      expect(pids.filter(isAlive)).toEqual([]);
      expect(existsSync(rootDir)).toBe(false);
      if (DATABASE_URL) expect(await databasesLike(databasePrefix)).toEqual([]);
      if (REDIS_URL) {
        await withRedis(async (redis) => {
          expect(await redis.keys(`${redisKeyPrefix}*`)).toEqual([]);
          expect(await redis.get(outsideKey)).toBe('1');
        });
      }
    } finally {
      await iso.stop();
      if (REDIS_URL) await withRedis((redis) => redis.del(outsideKey));
    }
  }, 90_000); // the first embedded run on a machine makes the PGlite template (initdb, seconds)

  test('when DISTRIBUTOR_PORT is given, then the distributor listens there', async () => {
    const servicesDir = fakeServices({ distributor: {} });
    const port = await freePort();
    const iso = await startIsolatedSystem({
      name: 'isotest',
      servicesDir,
      quiet: true,
      env: { ...process.env, DISTRIBUTOR_PORT: String(port) },
    });
    try {
      expect(iso.system.distributorUrl).toBe(`http://127.0.0.1:${port}`);
    } finally {
      await iso.stop();
    }
  });

  test('when a service fails at start, then the start rejects and its root and databases are gone', async () => {
    const servicesDir = fakeServices({
      distributor: {},
      member: { database: true },
      product: { failAtStart: 'config: broken on purpose' },
    });
    const before = rootsNamed('isofail');

    await expect(startIsolatedSystem({ name: 'isofail', servicesDir, quiet: true })).rejects.toThrow(
      'product#1 could not start',
    );

    expect(rootsNamed('isofail')).toEqual(before);
    if (DATABASE_URL) expect(await databasesLike(`isofail_${process.pid}`)).toEqual([]);
  });

  test('when the name would not make a database name, then nothing is started', async () => {
    await expect(startIsolatedSystem({ name: 'Bad-Name' })).rejects.toThrow('lower-case letters and digits');
  });
});

describe('the clean-up helpers', () => {
  test('when the prefix is empty, then they refuse rather than delete everything', async () => {
    await expect(dropDatabases('postgres://127.0.0.1:1/postgres', '')).rejects.toThrow('needs a prefix');
    await expect(deleteRedisKeys('redis://127.0.0.1:1', '')).rejects.toThrow('needs a prefix');
  });

  test('when freePort answers, then the port can be listened on', async () => {
    const port = await freePort();
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));
    expect(port).toBeGreaterThan(0);
  });

  (REDIS_URL ? test : test.skip)(
    'when a prefix holds glob characters, then only keys under it go',
    async () => {
      const prefix = `isotest:${process.pid}:[x]*:`;
      const neighbour = `isotest:${process.pid}:x:neighbour`;
      await withRedis(async (redis) => {
        await redis.set(`${prefix}one`, '1');
        await redis.set(neighbour, '1');
      });
      try {
        expect(await deleteRedisKeys(REDIS_URL!, prefix)).toBe(1);
        await withRedis(async (redis) => expect(await redis.get(neighbour)).toBe('1'));
      } finally {
        await withRedis((redis) => redis.del(neighbour, `${prefix}one`));
      }
    },
  );

  (DATABASE_URL ? test : test.skip)(
    'when databases share a prefix, then only those are dropped',
    async () => {
      // `_` is a LIKE wildcard: unescaped, the prefix would match the other one too.
      const prefix = `isodrop_${process.pid}`;
      const other = `isodropx${process.pid}`;
      const admin = new Client({ connectionString: DATABASE_URL });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE "${prefix}_one"`);
        await admin.query(`CREATE DATABASE "${other}_two"`);
        expect(await dropDatabases(DATABASE_URL!, prefix)).toEqual([`${prefix}_one`]);
        expect(await databasesLike(other)).toEqual([`${other}_two`]);
      } finally {
        await admin.query(`DROP DATABASE IF EXISTS "${prefix}_one"`);
        await admin.query(`DROP DATABASE IF EXISTS "${other}_two"`);
        await admin.end();
      }
    },
  );
});
