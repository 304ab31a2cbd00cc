// Issue 18: one configuration. `npm start` reads the .env that Docker Compose reads, so LOG_LEVEL=debug there
// changes what the services log. The runner's command runs over a temporary root (its services/ linked to this
// checkout's), so the checkout's own .env is neither read nor written.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '@msa/runner';
import { SERVICES_DIR } from './support/system';

const CLI = path.resolve(SERVICES_DIR, '..', 'packages', 'runner', 'dist', 'cli.js');

/** Runs the runner's command until the system is ready; resolves with every line it printed. */
async function startAndStop(dotenv: string | undefined, env: NodeJS.ProcessEnv): Promise<string[]> {
  const root = mkdtempSync(path.join(tmpdir(), 'msa-envfile-'));
  try {
    mkdirSync(path.join(root, 'services'));
    for (const name of ['distributor', 'logging']) {
      symlinkSync(path.join(SERVICES_DIR, name), path.join(root, 'services', name), 'dir');
    }
    if (dotenv !== undefined) writeFileSync(path.join(root, '.env'), dotenv);
    // No servers: with REDIS_URL the registry would share keys with every other system on that Redis.
    const { DATABASE_URL: _db, REDIS_URL: _redis, LOG_LEVEL: _level, ...rest } = process.env;
    const child = spawn(process.execPath, [CLI, '--root', root, '--json-logs', '--only', 'logging'], {
      env: { ...rest, DISTRIBUTOR_PORT: String(await freePort()), NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready in 60 s:\n${lines.join('\n')}`)), 60_000);
        createInterface({ input: child.stdout! }).on('line', (line) => {
          lines.push(line);
          if (line.startsWith('Press Ctrl-C')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.stderr!.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
        void exited.then((code) => reject(new Error(`the runner exited with ${code}:\n${lines.join('\n')}`)));
      });
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    return lines;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const debugLines = (lines: string[]) => lines.filter((line) => line.includes('"level":"debug"'));

test('when .env says LOG_LEVEL=debug, then the services log at debug; when the environment says info, it wins', async () => {
  const withDebug = await startAndStop('# as for Compose\nLOG_LEVEL=debug\n', {});
  expect(withDebug).toContainEqual(expect.stringMatching(/^Read .*\.env: LOG_LEVEL$/));
  // The kit logs its registration at debug level.
  expect(debugLines(withDebug)).toContainEqual(
    expect.stringMatching(/logging#1 +\| .*"message":"registered"/),
  );

  const overridden = await startAndStop('LOG_LEVEL=debug\n', { LOG_LEVEL: 'info' });
  expect(overridden.some((line) => line.includes('"level":"info"'))).toBe(true);
  expect(debugLines(overridden)).toEqual([]);
}, 150_000);
