import net from 'node:net';
import { pino } from 'pino';
import { openDatabase } from '../src';
import { createSharedTestDatabase, type SharedTestDatabase } from '../src/testing';

// A TCP proxy in front of the database that the test cuts: every connection through it dies at once.
async function cuttableProxy(target: string) {
  const url = new URL(target);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(url.port || 5432), url.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(target);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as net.AddressInfo).port);
  return {
    url: proxied.toString(),
    cutConnections: () => sockets.forEach((s) => s.destroy()),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

describe(`a lost database connection (${process.env.DATABASE_URL ? 'Postgres' : 'embedded PGlite'})`, () => {
  let db: SharedTestDatabase;

  beforeAll(async () => {
    db = await createSharedTestDatabase(4);
  });
  afterAll(() => db.close());

  it('when the connection of a checked-out client dies, then the process survives and the pool serves again', async () => {
    const proxy = await cuttableProxy(db.url);
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const database = await openDatabase({
      service: 'loss',
      url: proxy.url,
      dataDir: 'memory',
      poolMax: 2,
      logger,
    });
    const uncaught: Error[] = [];
    const onUncaught = (err: Error) => uncaught.push(err);
    process.prependListener('uncaughtException', onUncaught);
    try {
      const client = await database.pool.connect();
      // Without a listener on the client, its 'error' is thrown from the socket's callback and 'end' never comes.
      const closed = new Promise((resolve, reject) => {
        client.once('end', resolve);
        setTimeout(() => reject(new Error('the client never ended: its error went uncaught')), 5000).unref();
      });
      proxy.cutConnections();
      await closed;
      client.release(true);

      await database.ping();
      expect(uncaught).toEqual([]);
      expect(lines.some((line) => line.includes('database connection lost'))).toBe(true);
    } finally {
      process.off('uncaughtException', onUncaught);
      await database.close();
      await proxy.close();
    }
  });
});
