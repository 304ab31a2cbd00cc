import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { isAlive, makeRoot, testEnv } from './fake-services';

const cli = path.resolve(__dirname, '..', 'dist', 'cli.js');

/** Starts the built CLI on a temp repo and resolves once it says the system is ready. */
async function runCli(
  services: Parameters<typeof makeRoot>[0],
  { dotenv, env = {} }: { dotenv?: string; env?: NodeJS.ProcessEnv } = {},
) {
  const root = makeRoot(services);
  if (dotenv !== undefined) writeFileSync(path.join(root.rootDir, '.env'), dotenv);
  const child = spawn(process.execPath, [cli, '--root', root.rootDir, '--json-logs'], {
    env: testEnv({ NO_COLOR: '1', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      if (line.startsWith('Press Ctrl-C')) resolve();
    });
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    void exited.then((code) => reject(new Error(`the runner exited with ${code}:\n${output.join('\n')}`)));
  });
  const pids = [
    ...new Set(output.flatMap((line) => [...line.matchAll(/ pid (\d+)/g)].map((m) => Number(m[1])))),
  ];
  return { child, output, exited, pids, rootDir: root.rootDir, cleanup: root.cleanup };
}

/** A SIGKILLed process is gone a moment after the signal; wait that moment (bounded). */
async function alive(pids: number[]): Promise<number[]> {
  for (let attempt = 0; attempt < 40 && pids.some(isAlive); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return pids.filter(isAlive);
}

function stopped(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

describe('the runner command', () => {
  test('when it gets SIGTERM, then it stops every service and exits 0', async () => {
    const run = await runCli({ distributor: {}, member: {} });
    try {
      expect(run.pids).toHaveLength(2);
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
      expect(run.output.at(-1)).toBe('Stopped.');
      expect(run.pids.filter(isAlive)).toEqual([]);
    } finally {
      if (!stopped(run.child)) run.child.kill('SIGKILL');
      run.cleanup();
    }
  });

  test('when Ctrl-C comes twice, a second apart, then everything is killed at once', async () => {
    const run = await runCli({ member: { ignoreSigterm: true } });
    try {
      run.child.kill('SIGINT');
      run.child.kill('SIGINT'); // the copy npm forwards of the same Ctrl-C: not a second one
      await new Promise((resolve) => setTimeout(resolve, 1200));
      expect(stopped(run.child)).toBe(false);
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(130);
      expect(run.output).toContain('Killing everything now.');
      expect(run.pids).toHaveLength(1);
      expect(await alive(run.pids)).toEqual([]);
    } finally {
      if (!stopped(run.child)) run.child.kill('SIGKILL');
      run.cleanup();
    }
  });

  test('when the root has a .env, then the services get its variables, and the environment wins over it', async () => {
    const dotenv =
      '# as Compose reads it\nLOG_LEVEL=debug\nSEED_CATALOG=false\nSLACK_WEBHOOK_URL="https://hooks.example/x y"\n';
    const run = await runCli({ member: {} }, { dotenv, env: { SEED_CATALOG: 'true', LOG_LEVEL: undefined } });
    try {
      const url = /listening on (\S+)/.exec(run.output.join('\n'))![1]!;
      const member = (await (await fetch(url)).json()) as { env: Record<string, string> };
      expect(member.env).toMatchObject({
        LOG_LEVEL: 'debug',
        SEED_CATALOG: 'true',
        SLACK_WEBHOOK_URL: 'https://hooks.example/x y',
      });
      expect(run.output).toContain(`Read ${path.join(run.rootDir, '.env')}: LOG_LEVEL, SLACK_WEBHOOK_URL`);
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
      run.cleanup();
    }
  });

  test('when the arguments are wrong, then it says why and exits 2', async () => {
    const child = spawn(process.execPath, [cli, '--scale', 'nobody=2', '--root', '/nonexistent-msa-root'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('--scale: there is no service "nobody" (services: none)');
  });
});
