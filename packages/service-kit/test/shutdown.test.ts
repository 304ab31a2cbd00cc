import net from 'node:net';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startService } from '../src';
import { signTestToken, testEnv, TEST_SECRET, readJson } from '../src/testing';
import { echoService } from './fixtures/echo-service';

describe('graceful shutdown', () => {
  it('when stop begins with a request in flight, then it finishes, readiness turns 503, new connections are refused', async () => {
    const svc = await startService(echoService, { env: testEnv(), waitReady: true });
    const headers = { 'x-internal-token': await signTestToken() };
    const inFlight = fetch(`${svc.url}/slow?ms=400`, { headers });
    await new Promise((r) => setTimeout(r, 100));
    const stopping = svc.stop();
    expect(svc.ctx.ready).toBe(false);
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await readJson(res)).toEqual({ waited: 400 });
    await stopping;
    await expect(fetch(`${svc.url}/health/live`)).rejects.toThrow();
  });

  it('when a real process gets SIGTERM, then it drains and exits 0', async () => {
    const kit = path.resolve(__dirname, '..');
    const script = `
      const { runService, defineService } = require(${JSON.stringify(kit)});
      runService(defineService({ name: 'sig', routes: () => [] }));`;
    const child = spawn(process.execPath, ['-e', script], {
      env: {
        PATH: process.env.PATH,
        INTERNAL_TOKEN_SECRET: TEST_SECRET,
        DISTRIBUTOR_URL: '',
        LOG_LEVEL: 'info',
        DATA_DIR: 'memory',
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const messages: Array<{ type: string; url: string }> = [];
    child.on('message', (m) => messages.push(m as { type: string; url: string }));
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    for (let i = 0; i < 200 && !messages.some((m) => m.type === 'ready'); i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(messages.map((m) => m.type)).toEqual(['listening', 'ready']);
    expect((await fetch(`${messages[1]!.url}/health/ready`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('"message":"sig stopped"');
  });

  it('when its database refuses at start, then the process keeps retrying (alive, not a silent exit 0)', async () => {
    // Nothing listens yet while it waits for the database: the wait itself must hold the process. It did not
    // (an unref'd timer), and the service ended with code 0, which a supervisor takes for a clean stop.
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const kit = path.resolve(__dirname, '..');
    const script = `
      const { runService, defineService } = require(${JSON.stringify(kit)});
      runService(defineService({
        name: 'waits',
        database: { migrationsDir: ${JSON.stringify(path.join(__dirname, 'fixtures', 'migrations'))} },
        routes: () => [],
      }));`;
    const child = spawn(process.execPath, ['-e', script], {
      env: {
        PATH: process.env.PATH,
        INTERNAL_TOKEN_SECRET: TEST_SECRET,
        DISTRIBUTOR_URL: '',
        DATABASE_URL: `postgres://postgres@127.0.0.1:${closed}/none`,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    let exit: number | null | undefined;
    const exited = new Promise<void>((resolve) =>
      child.on('exit', (code) => {
        exit = code;
        resolve();
      }),
    );
    // Its first retries come after 250 and 500 ms (with jitter): by 2.5 s it has retried and must still run.
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2500))]);
    expect(exit).toBeUndefined();
    expect(out).toContain('database not reachable yet; retrying');
    child.kill('SIGKILL');
    await exited;
  });
});
