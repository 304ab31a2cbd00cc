import { Client } from 'pg';
import {
  dropDatabases,
  startSystem,
  StartFailure,
  type RunningSystem,
  type StartSystemOptions,
} from '../src';
import { isAlive, makeRoot, testEnv, type FakeServiceOptions } from './fake-services';

interface Started {
  system: RunningSystem;
  lines: string[];
  cleanup(): void;
}

const systems: Started[] = [];

async function start(
  services: Record<string, FakeServiceOptions>,
  options: StartSystemOptions = {},
): Promise<Started> {
  const root = makeRoot(services);
  const lines: string[] = [];
  const system = await startSystem({
    rootDir: root.rootDir,
    env: testEnv(),
    quiet: true,
    print: (line) => lines.push(line),
    ...options,
  }).catch((err: Error) => {
    root.cleanup();
    throw Object.assign(err, { lines });
  });
  const started = { system, lines, cleanup: root.cleanup };
  systems.push(started);
  return started;
}

// On a real server the runner creates <prefix>_<service> databases; leave nothing behind.
const prefix = `runner_${process.pid}`;
afterAll(async () => {
  if (process.env.DATABASE_URL) await dropDatabases(process.env.DATABASE_URL, prefix);
});

afterEach(async () => {
  for (const { system, cleanup } of systems.splice(0)) {
    await system.stop();
    cleanup();
  }
});

async function whoIs(url: string): Promise<{ pid: number; instanceId: string; env: Record<string, string> }> {
  const res = await fetch(url);
  return (await res.json()) as { pid: number; instanceId: string; env: Record<string, string> };
}

describe('startSystem', () => {
  test('when the system starts, then each instance prints one ready line and the gateway URL comes last', async () => {
    const { system, lines } = await start({ distributor: {}, gateway: {}, member: {} });

    const ready = lines.filter((line) => line.startsWith('✔ ') && line.includes(' pid '));
    expect(ready).toHaveLength(3);
    expect(ready[0]).toMatch(/^✔ distributor#1 {2}distributor-\S+ {2}pid \d+ {2}http:\/\/127\.0\.0\.1:\d+$/);
    for (const info of system.instances) {
      expect(ready).toContain(`✔ ${info.label}  ${info.instanceId}  pid ${info.pid}  ${info.url}`);
    }
    expect(lines.at(-1)).toBe(`✔ System ready: 3 instance(s) of 3 service(s). Gateway: ${system.gatewayUrl}`);
    expect(system.gatewayUrl).toBe(system.instance('gateway').url);
  });

  test('when the distributor is up, then every other service is told its URL and gets the embedded defaults', async () => {
    const { system } = await start(
      { distributor: {}, gateway: {}, member: {} },
      { env: testEnv({ LOG_LEVEL: 'warn' }) },
    );

    const member = await whoIs(system.instance('member').url!);
    expect(member.env).toMatchObject({
      DISTRIBUTOR_URL: system.distributorUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      INTERNAL_TOKEN_SECRET: system.internalTokenSecret,
      DATA_DIR: `${system.rootDir}/.data`,
    });
    const gateway = await whoIs(system.gatewayUrl!);
    expect(gateway.env.HTTPS_PORT).toBe('0');
    expect(gateway.env.INTERNAL_TOKEN_SECRET).toBe(system.internalTokenSecret);
  });

  test('when purchase is scaled to 3, then three instances run with distinct pids, ports and ids', async () => {
    const { system, lines } = await start({ purchase: {} }, { scale: { purchase: 3 } });

    const instances = system.instances;
    expect(instances.map((i) => i.label)).toEqual(['purchase#1', 'purchase#2', 'purchase#3']);
    expect(new Set(instances.map((i) => i.pid)).size).toBe(3);
    expect(new Set(instances.map((i) => new URL(i.url!).port)).size).toBe(3);
    expect(new Set(instances.map((i) => i.instanceId)).size).toBe(3);
    for (const info of instances) expect((await whoIs(info.url!)).pid).toBe(info.pid);
    expect(lines.at(-1)).toBe('✔ System ready: 3 instance(s) of 1 service(s). No gateway service yet.');
  });

  test('when an instance crashes later, then it is restarted with backoff and the runner says so', async () => {
    const { system, lines } = await start({ member: {} }, { scale: { member: 2 } });
    const before = system.instance('member', 2);

    const back = system.nextReady('member', 2);
    await fetch(`${before.url}/crash`);
    const after = await back;

    expect(lines).toContain('↻ member#2 exited with code 1; restarting it in 250 ms');
    expect(after.pid).not.toBe(before.pid);
    expect(after.restarts).toBe(1);
    expect(lines.at(-1)).toBe(`✔ member#2  ${after.instanceId}  pid ${after.pid}  ${after.url}  (restart 1)`);
    expect(isAlive(before.pid)).toBe(false);
    expect(system.instance('member', 1).pid).toBeDefined();
  });

  test('when an instance keeps crashing, then each restart waits twice as long', async () => {
    const { system, lines } = await start({ member: {} });

    for (let crash = 1; crash <= 3; crash++) {
      const back = system.nextReady('member');
      await system.kill('member', 1, 'SIGKILL');
      await back;
    }

    const restarts = lines.filter((line) => line.startsWith('↻ '));
    expect(restarts).toEqual([
      '↻ member#1 was killed by SIGKILL; restarting it in 250 ms',
      '↻ member#1 was killed by SIGKILL; restarting it in 500 ms (crash 2 in a row)',
      '↻ member#1 was killed by SIGKILL; restarting it in 1 s (crash 3 in a row)',
    ]);
  });

  test('when an instance crashes fast too many times in a row, then the runner gives up on it and says why', async () => {
    const { system, lines } = await start(
      { member: {} },
      { restart: { maxFastCrashes: 2, initialDelayMs: 10 } },
    );

    const back = system.nextReady('member');
    await system.kill('member');
    await back;
    const gaveUp = system.nextReady('member');
    await system.kill('member');

    await expect(gaveUp).rejects.toThrow('member#1 keeps crashing; the runner gave up on it');
    expect(system.instance('member').state).toBe('failed');
    expect(
      lines.some((line) => line.startsWith('✖ member#1 was killed by SIGKILL after 2 quick crashes')),
    ).toBe(true);
  });

  test('when a service fails at start, then it is named with its last stderr lines and the rest are stopped', async () => {
    const root = makeRoot({
      distributor: {},
      member: {},
      product: { failAtStart: 'config: DATABASE_URL must be a URL' },
    });
    const lines: string[] = [];
    try {
      await expect(
        // Not quiet: the children's own lines carry their pids, so none can escape the check below.
        startSystem({ rootDir: root.rootDir, env: testEnv(), print: (line) => lines.push(line) }),
      ).rejects.toThrow(new StartFailure('product#1', 'exited with code 3 before it was ready', []));
    } finally {
      root.cleanup();
    }
    expect(lines).toContain('✖ product#1 could not start: it exited with code 3 before it was ready');
    const report = lines.slice(
      lines.indexOf('✖ product#1 could not start: it exited with code 3 before it was ready'),
    );
    expect(report[1]).toContain('last output of product#1:');
    expect(report[1]).toContain('config: DATABASE_URL must be a URL');
    expect(report[1]).not.toContain('starting'); // stderr lines are the ones that say why
    // The others may still be writing while they stop, so the line is not necessarily the last.
    expect(report).toContain('Stopping the rest…');
    const pids = lines.flatMap((line) => [...line.matchAll(/pid (\d+)/g)].map((m) => Number(m[1])));
    expect(pids.length).toBeGreaterThan(0);
    expect(pids.filter(isAlive)).toEqual([]);
  });

  test('when a service is not ready within the start timeout, then it is named and nothing is left running', async () => {
    const root = makeRoot({ member: {}, product: { neverReady: true } });
    const lines: string[] = [];
    try {
      await expect(
        startSystem({
          rootDir: root.rootDir,
          env: testEnv(),
          quiet: true,
          print: (line) => lines.push(line),
          startTimeoutMs: 5000,
        }),
      ).rejects.toThrow('product#1 could not start: it was not ready after 5 s');
    } finally {
      root.cleanup();
    }
    expect(lines.join('\n')).toContain('product pid');
    const pids = lines.flatMap((line) => [...line.matchAll(/pid (\d+)/g)].map((m) => Number(m[1])));
    expect(pids.filter(isAlive)).toEqual([]);
  });

  test('when the system stops, then no child is left running, even one that ignores SIGTERM', async () => {
    const { system } = await start(
      { distributor: {}, member: { database: true }, stubborn: { ignoreSigterm: true } },
      { scale: { member: 2 }, stopTimeoutMs: 500, databasePrefix: prefix },
    );
    const pids = [...system.instances, ...system.databaseServers].map((i) => i.pid!);
    expect(pids.every(isAlive)).toBe(true);

    await system.stop();

    expect(pids.filter(isAlive)).toEqual([]);
    expect(system.instances.map((i) => i.state)).toEqual(['stopped', 'stopped', 'stopped', 'stopped']);
  });

  test('when a service has migrations, then all its instances share one database of its own', async () => {
    const { system } = await start(
      { member: { database: true }, product: { database: true }, gateway: {} },
      { scale: { member: 2 }, databasePrefix: prefix },
    );

    const [one, two] = await Promise.all([
      whoIs(system.instance('member', 1).url!),
      whoIs(system.instance('member', 2).url!),
    ]);
    expect(one.env.DATABASE_URL).toBe(system.databases.member);
    expect(two.env.DATABASE_URL).toBe(system.databases.member);
    expect(system.databases.product).not.toBe(system.databases.member);
    expect((await whoIs(system.gatewayUrl!)).env.DATABASE_URL).toBeUndefined();

    const client = new Client({ connectionString: system.databases.member });
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
      expect(rows[0]!.db).toBe(process.env.DATABASE_URL ? `${prefix}_member` : 'postgres');
    } finally {
      await client.end();
    }
  });

  test('when an instance is added or restarted on purpose, then it comes up on its own port and is not counted as a crash', async () => {
    const { system, lines } = await start({ purchase: {} });

    const added = await system.addInstance('purchase');
    const restarted = await system.restart('purchase', 1);

    expect(added.label).toBe('purchase#2');
    expect(added.url).not.toBe(restarted.url);
    expect(lines.filter((line) => line.startsWith('↻ '))).toEqual([]);
  });

  test('when start-up is aborted, then what was started is stopped and the start rejects', async () => {
    const root = makeRoot({ distributor: {}, member: { neverReady: true } });
    const controller = new AbortController();
    const lines: string[] = [];
    const starting = startSystem({
      rootDir: root.rootDir,
      env: testEnv(),
      quiet: true,
      print: (line) => {
        lines.push(line);
        if (line.startsWith('✔ distributor#1')) setTimeout(() => controller.abort(), 50);
      },
      signal: controller.signal,
    });
    try {
      await expect(starting).rejects.toThrow('start cancelled');
    } finally {
      root.cleanup();
    }
    const distributorPid = Number(/pid (\d+)/.exec(lines.join('\n'))?.[1]);
    expect(isAlive(distributorPid)).toBe(false);
  });
});
