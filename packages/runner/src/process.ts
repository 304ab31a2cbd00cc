import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { isKitMessage, type KitMessage } from './ipc';

export type ProcessState = 'idle' | 'starting' | 'ready' | 'backoff' | 'stopping' | 'stopped' | 'failed';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RestartPolicy {
  /** Delay before the first restart after a crash; doubles with every crash in a row. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** A crash this soon after the spawn counts as "fast"; a longer run resets the count. */
  fastCrashMs: number;
  /** After this many fast crashes in a row the process is left down and reported. */
  maxFastCrashes: number;
}

export const defaultRestartPolicy: RestartPolicy = {
  initialDelayMs: 250,
  maxDelayMs: 8000,
  fastCrashMs: 10_000,
  maxFastCrashes: 8,
};

/** 250 ms, 500 ms, 1 s, … capped at maxDelayMs, for the n-th crash in a row (n ≥ 1). */
export function backoffDelay(crashesInARow: number, policy: RestartPolicy = defaultRestartPolicy): number {
  const exponent = Math.max(0, Math.min(crashesInARow - 1, 30));
  return Math.min(policy.initialDelayMs * 2 ** exponent, policy.maxDelayMs);
}

export function describeExit({ code, signal }: ExitInfo): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

export interface InstanceInfo {
  service: string;
  /** 1-based, as printed: purchase#1 is the first instance. */
  index: number;
  label: string;
  state: ProcessState;
  pid?: number;
  instanceId?: string;
  url?: string;
  /** The whole last `ready` message, for fields beyond the contract (e.g. the gateway's httpsUrl). */
  ready?: KitMessage;
  restarts: number;
}

export interface OutputLine {
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface SupervisedProcessOptions {
  service: string;
  index: number;
  /** How it is named in output; `<service>#<index>` unless given. */
  label?: string;
  script: string;
  /** Evaluated at every spawn, so a restart can reuse what the last run reported (e.g. its port). */
  args?: () => string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  readyTimeoutMs: number;
  stopTimeoutMs: number;
  restart: RestartPolicy;
}

/** Why an instance did not come up: its name, the reason and the last lines it wrote. */
export class StartFailure extends Error {
  constructor(
    readonly label: string,
    readonly reason: string,
    readonly lastLines: string[],
  ) {
    super(`${label} could not start: it ${reason}`);
    this.name = 'StartFailure';
  }
}

const KEPT_LINES = 20;
const SHOWN_LINES = 12;
// A grandchild could keep the pipes open after the child exits; do not wait for it forever.
const CLOSE_GRACE_MS = 1000;

interface Run {
  child: ChildProcess;
  startedAt: number;
  exited: Promise<ExitInfo>;
}

/**
 * One child process kept alive the way the book's cluster master did: spawn, wait for the kit's
 * `ready` message, and after an unexpected exit spawn it again with exponential backoff, unless it
 * is being stopped on purpose or keeps crashing fast.
 *
 * Events: 'line' (OutputLine), 'listening' (InstanceInfo), 'ready' (InstanceInfo, restarted),
 * 'exit' (ExitInfo, expected), 'restarting' ({ exit, delayMs, crashesInARow }),
 * 'gave-up' ({ exit, crashesInARow, lastLines }).
 */
export class SupervisedProcess extends EventEmitter {
  readonly label: string;
  private state: ProcessState = 'idle';
  private run: Run | undefined;
  private lastReady: KitMessage | undefined;
  private listening: KitMessage | undefined;
  private supervising = false;
  private stopping = false;
  private crashesInARow = 0;
  private restarts = 0;
  private readyTimer: NodeJS.Timeout | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  private timeoutReason: string | undefined;
  private pendingStart: { resolve: (info: InstanceInfo) => void; reject: (err: Error) => void } | undefined;
  private readonly recent: OutputLine[] = [];

  constructor(private readonly options: SupervisedProcessOptions) {
    super();
    this.label = options.label ?? `${options.service}#${options.index}`;
  }

  get info(): InstanceInfo {
    const message = this.state === 'ready' ? this.lastReady : this.listening;
    return {
      service: this.options.service,
      index: this.options.index,
      label: this.label,
      state: this.state,
      pid: this.run?.child.pid,
      instanceId: message?.instanceId,
      url: message?.url,
      ready: this.lastReady,
      restarts: this.restarts,
    };
  }

  get pid(): number | undefined {
    return this.run?.child.pid;
  }

  /** The last lines it wrote: stderr when there is any, else stdout. */
  lastLines(count = SHOWN_LINES): string[] {
    const errors = this.recent.filter((line) => line.stream === 'stderr');
    return (errors.length > 0 ? errors : this.recent).slice(-count).map((line) => line.text);
  }

  /** Spawns it and resolves once it is ready; rejects with a StartFailure if it exits or times out first. */
  start(): Promise<InstanceInfo> {
    if (this.state !== 'idle' && this.state !== 'stopped' && this.state !== 'failed') {
      return Promise.reject(new Error(`${this.label} is already ${this.state}`));
    }
    this.stopping = false;
    this.supervising = false;
    this.crashesInARow = 0;
    return new Promise<InstanceInfo>((resolve, reject) => {
      this.pendingStart = { resolve, reject };
      this.spawnOnce();
    });
  }

  /** Sends a signal as an outsider would: the exit counts as a crash, so a supervised process is restarted. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitInfo> {
    const run = this.run;
    if (!run) throw new Error(`${this.label} is not running`);
    run.child.kill(signal);
    return run.exited;
  }

  /** Stops it on purpose (SIGTERM, then SIGKILL after stopTimeoutMs); it is not restarted. */
  async stop(timeoutMs = this.options.stopTimeoutMs): Promise<void> {
    this.stopping = true;
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    const run = this.run;
    if (!run) {
      if (this.state !== 'failed') this.state = 'stopped';
      this.failPendingStart('was stopped before it was ready');
      return;
    }
    this.state = 'stopping';
    run.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<undefined>(
      (resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)),
    );
    const exited = await Promise.race([run.exited, timedOut]);
    clearTimeout(timer);
    if (!exited) {
      run.child.kill('SIGKILL');
      await run.exited;
    }
  }

  /** Kills it at once, synchronously: for a forced shutdown or the runner's own exit. */
  forceKill(): void {
    this.stopping = true;
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    this.run?.child.kill('SIGKILL');
  }

  private spawnOnce(): void {
    const { script, args, env, cwd, readyTimeoutMs } = this.options;
    this.state = 'starting';
    this.listening = undefined;
    this.timeoutReason = undefined;
    const child = spawn(process.execPath, [script, ...(args ? args() : [])], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Its own process group: a Ctrl-C in the terminal reaches only the runner, which then stops
      // the services in order instead of having them all race to exit at once.
      detached: true,
    });
    const exited = new Promise<ExitInfo>((resolve) => {
      let exit: ExitInfo | undefined;
      child.once('exit', (code, signal) => {
        exit = { code, signal };
        setTimeout(() => resolve(exit!), CLOSE_GRACE_MS).unref();
      });
      // 'close' comes after the last output line, so a crash report shows everything it wrote.
      child.once('close', (code, signal) => resolve(exit ?? { code, signal }));
      child.once('error', () => resolve(exit ?? { code: null, signal: null }));
    });
    const run: Run = { child, startedAt: Date.now(), exited };
    this.run = run;
    child.on('error', (err) => this.keep({ stream: 'stderr', text: `spawn failed: ${err.message}` }));
    for (const stream of ['stdout', 'stderr'] as const) {
      const lines = createInterface({ input: child[stream]!, crlfDelay: Infinity });
      lines.on('line', (text) => this.keep({ stream, text }));
    }
    child.on('message', (message) => this.onMessage(run, message));
    this.readyTimer = setTimeout(() => {
      this.timeoutReason = `was not ready after ${Math.round(readyTimeoutMs / 1000)} s`;
      child.kill('SIGKILL');
    }, readyTimeoutMs);
    void exited.then((exit) => this.onExit(run, exit));
  }

  private keep(line: OutputLine): void {
    this.recent.push(line);
    if (this.recent.length > KEPT_LINES) this.recent.shift();
    this.emit('line', line);
  }

  private onMessage(run: Run, message: unknown): void {
    if (run !== this.run || !isKitMessage(message)) return;
    if (message.type === 'listening') {
      this.listening = message;
      this.emit('listening', this.info);
      return;
    }
    if (message.type !== 'ready' || this.state !== 'starting') return;
    clearTimeout(this.readyTimer);
    this.listening ??= message;
    this.lastReady = message;
    this.state = 'ready';
    const restarted = this.supervising;
    this.supervising = true;
    const info = this.info;
    this.emit('ready', info, restarted);
    this.pendingStart?.resolve(info);
    this.pendingStart = undefined;
  }

  private onExit(run: Run, exit: ExitInfo): void {
    clearTimeout(this.readyTimer);
    if (run !== this.run) return;
    this.run = undefined;
    const expected = this.stopping;
    this.emit('exit', exit, expected);
    if (expected) {
      this.state = 'stopped';
      this.failPendingStart(`was stopped before it was ready`);
      return;
    }
    const reason = this.timeoutReason ?? `${describeExit(exit)} before it was ready`;
    if (!this.supervising) {
      this.state = 'failed';
      this.failPendingStart(reason);
      return;
    }
    const uptime = Date.now() - run.startedAt;
    const { restart } = this.options;
    this.crashesInARow = uptime < restart.fastCrashMs ? this.crashesInARow + 1 : 1;
    if (this.crashesInARow >= restart.maxFastCrashes) {
      this.state = 'failed';
      this.emit('gave-up', { exit, crashesInARow: this.crashesInARow, lastLines: this.lastLines() });
      return;
    }
    const delayMs = backoffDelay(this.crashesInARow, restart);
    this.state = 'backoff';
    this.emit('restarting', { exit, delayMs, crashesInARow: this.crashesInARow });
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      this.restarts += 1;
      this.spawnOnce();
    }, delayMs);
  }

  private failPendingStart(reason: string): void {
    this.pendingStart?.reject(new StartFailure(this.label, reason, this.lastLines()));
    this.pendingStart = undefined;
  }
}
