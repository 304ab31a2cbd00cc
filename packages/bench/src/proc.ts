// Processes: CPU and memory from /proc, CPU pinning with taskset, spawning and stopping by PID.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process (all its threads) in microseconds; undefined once it is gone. */
export function cpuMicros(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // fields 14 and 15 of proc(5)
    return (ticks * 1e6) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** The sum over several processes (e.g. nginx's master and worker). */
export function cpuMicrosOf(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (cpuMicros(pid) ?? 0), 0);
}

/** Resident memory in bytes (VmRSS). */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** A process and all its descendants, from /proc (children files are per thread). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i]!;
    try {
      for (const tid of readdirSync(`/proc/${p}/task`)) {
        const children = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8').trim();
        if (children) for (const c of children.split(' ')) out.push(Number(c));
      }
    } catch {
      // gone
    }
  }
  return out;
}

export function cores(): number {
  return os.cpus().length;
}

export function cpuModel(): string {
  return os.cpus()[0]?.model.trim() ?? 'unknown';
}

/** Pins a running process, every thread of it, to the given CPUs ("1", "0-1"). No-op without taskset or with one core. */
export function pin(pid: number, cpus: string): void {
  if (cores() < 2) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
  } catch {
    // the process may be gone; pinning is best effort and stated in the report
  }
}

export const LOADGEN_CPU = '0';
export const SERVER_CPU = () => (cores() >= 2 ? '1' : '0');

export interface Spawned {
  child: ChildProcess;
  pid: number;
  exited: Promise<number | null>;
}

/** Spawns a command pinned to `cpus` from its first instruction (taskset execs it, so the PID is the command's). */
export function spawnPinned(
  cmd: string,
  args: string[],
  opts: { cpus?: string; env?: NodeJS.ProcessEnv; logFile?: string; cwd?: string } = {},
): Spawned {
  const out = opts.logFile ? openSync(opts.logFile, 'a') : 'ignore';
  const [file, argv] = opts.cpus && cores() >= 2 ? ['taskset', ['-c', opts.cpus, cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, {
    env: opts.env ?? process.env,
    stdio: ['ignore', out, out],
    cwd: opts.cwd,
  });
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  started.add(child.pid);
  void exited.then(() => started.delete(child.pid!));
  return { child, pid: child.pid, exited };
}

const started = new Set<number>();
// Whatever this process started dies with it, even on an error.
process.on('exit', () => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
export async function stopProcess(p: Spawned, graceMs = 5000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `url` answers 2xx (any status with `anyStatus`); rejects after `timeoutMs`. */
export async function waitForHttp(
  url: string,
  timeoutMs = 20_000,
  intervalMs = 5,
  anyStatus = false,
): Promise<number> {
  const started = performance.now();
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok || anyStatus) return performance.now() - started;
    } catch {
      // not yet
    }
    if (performance.now() - started > timeoutMs) throw new Error(`${url} not ready within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}
