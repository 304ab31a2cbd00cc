// `npm run dev`: the running system, plus a watch on the sources of what it runs. A change under a
// service's src/ rebuilds that service (the TypeScript compiler, kept warm in a thread) and replaces its instances; a change in a library it uses
// (the service kit) rebuilds the library and every package that uses it, then replaces those services.
// The databases, Redis and every other service keep running. A build that fails is printed and the old
// instances keep serving.
import { EventEmitter } from 'node:events';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BuildRequest, BuildResult } from './build-worker';
import type { Colors } from './output';
import { colors, indent } from './output';
import { StartFailure } from './process';
import type { RunningSystem } from './system';
import { readWorkspace, rebuildOrder, type WorkspacePackage } from './workspace';

export interface WatchOptions {
  /** Where services/ and packages/ are (default the system's root). */
  rootDir?: string;
  /** How long to wait after the last change before building: an editor's save is several events. */
  debounceMs?: number;
  color?: boolean;
  /** Where its lines go (default: where the system prints its own). */
  print?: (line: string) => void;
  /**
   * Build every watched package once in the background at the start (default true), so that the first
   * change builds on a warm compiler too: seconds of CPU per package, and the compiler thread then holds
   * about 60–80 MB per package.
   */
  warm?: boolean;
}

export interface Reload {
  /** The services replaced (each had its instances replaced) and those whose build or start failed. */
  replaced: string[];
  failed: string[];
  /** From the first change seen to the last new instance ready. */
  totalMs: number;
}

/**
 * A watch on a running system. Events: 'reload' (Reload) after each round of builds and restarts,
 * 'error' is never emitted (failures are printed and the old instances keep serving).
 */
export interface DevWatcher extends EventEmitter {
  /** The source folders watched. */
  readonly watched: string[];
  /** Resolves when the background build at the start is done (at once with `warm: false`). */
  readonly warming: Promise<void>;
  /** Resolves when no build or restart is under way or waiting. */
  idle(): Promise<void>;
  /** Stops watching and a build under way; a replace under way ends on its own (the system is stopping). */
  close(): Promise<void>;
}

// Only sources count: editor swap files, backups and tsc's own output do not.
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs|json|sql)$/;

export function watchSystem(system: RunningSystem, options: WatchOptions = {}): DevWatcher {
  return new Watcher(system, options);
}

class Watcher extends EventEmitter implements DevWatcher {
  readonly watched: string[] = [];
  private readonly fsWatchers: FSWatcher[] = [];
  private readonly packages: WorkspacePackage[];
  /** Package name → 'build' (src changed) or 'restart' (only migrations changed). */
  private readonly dirty = new Map<string, 'build' | 'restart'>();
  private firstChangeAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private readonly compiler = new Compiler();
  /** The background build of every package at the start (see WatchOptions.warm). */
  warming: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly c: Colors;
  private readonly color: boolean;
  private readonly print: (line: string) => void;
  private readonly debounceMs: number;

  constructor(
    private readonly system: RunningSystem,
    options: WatchOptions,
  ) {
    super();
    this.color = options.color ?? false;
    this.print = options.print ?? ((line) => system.print(line));
    this.c = colors(this.color);
    this.debounceMs = options.debounceMs ?? 150;
    const workspace = readWorkspace(options.rootDir ?? system.rootDir);
    const running = new Set(system.services.map((s) => s.name));
    const services = workspace.filter((p) => p.isService && running.has(p.folder));
    // The libraries the running services use, transitively.
    const byName = new Map(workspace.map((p) => [p.name, p]));
    const used = new Map<string, WorkspacePackage>();
    const use = (p: WorkspacePackage): void => {
      for (const dep of p.localDependencies) {
        const lib = byName.get(dep);
        if (!lib || lib.isService || used.has(lib.name)) continue;
        used.set(lib.name, lib);
        use(lib);
      }
    };
    services.forEach(use);
    this.packages = [...used.values(), ...services];
    for (const p of this.packages) {
      this.watch(p, 'src', 'build');
      if (p.isService) this.watch(p, 'migrations', 'restart');
    }
    if (options.warm !== false) {
      const started = Date.now();
      const dirs = this.packages
        .filter((p) => existsSync(path.join(p.dir, 'tsconfig.build.json')))
        .map((p) => p.dir);
      this.warming = this.compiler.warm(dirs).then(() => {
        if (!this.closed)
          this.print(`Compiler warm: ${dirs.length} package(s) built in ${seconds(Date.now() - started)}.`);
      });
    }
  }

  private watch(p: WorkspacePackage, folder: string, kind: 'build' | 'restart'): void {
    const dir = path.join(p.dir, folder);
    if (!existsSync(dir)) return;
    // Node's own recursive watch (inotify on Linux since Node 20, FSEvents on macOS, Windows' own).
    const watcher = watch(dir, { recursive: true }, (_event, file) => {
      if (file && (!SOURCE.test(file) || path.basename(file).startsWith('.'))) return;
      this.changed(p.name, kind);
    });
    watcher.on('error', (err) => this.print(`✖ watching ${dir} failed: ${err.message}`));
    this.fsWatchers.push(watcher);
    this.watched.push(dir);
  }

  private changed(name: string, kind: 'build' | 'restart'): void {
    if (this.closed) return;
    if (this.dirty.get(name) !== 'build') this.dirty.set(name, kind);
    this.firstChangeAt ??= Date.now();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.schedule(), this.debounceMs);
  }

  /** One round at a time: changes during a round are taken by the next one. */
  private schedule(): void {
    if (this.round || this.closed || this.dirty.size === 0) return;
    const batch = new Map(this.dirty);
    const since = this.firstChangeAt ?? Date.now();
    this.dirty.clear();
    this.firstChangeAt = undefined;
    this.round = this.reload(batch, since)
      .catch((err: Error) => this.print(`✖ reload failed: ${err.stack ?? err.message}`))
      .finally(() => {
        this.round = undefined;
        this.schedule();
      });
  }

  private async reload(batch: Map<string, 'build' | 'restart'>, since: number): Promise<void> {
    const watchedNames = new Set(this.packages.map((p) => p.name));
    const toBuild = rebuildOrder(
      this.packages,
      [...batch].filter(([, kind]) => kind === 'build').map(([name]) => name),
    ).filter((p) => watchedNames.has(p.name));
    const buildMs = new Map<string, number>();
    const broken = new Set<string>();
    // One build at a time: the machine is busy serving the system meanwhile.
    for (const p of toBuild) {
      if (this.closed) return;
      if (p.localDependencies.some((dep) => broken.has(dep))) {
        broken.add(p.name);
        continue;
      }
      const started = Date.now();
      const result = await this.compiler.build(p.dir, this.color);
      if (this.closed) return;
      buildMs.set(p.name, Date.now() - started);
      if (!result.ok) {
        broken.add(p.name);
        const users = toBuild.filter((q) => q.isService && q !== p).map((q) => q.folder);
        const who = p.isService
          ? 'its instances keep'
          : users.length === 1
            ? `${users[0]} keeps`
            : `${users.join(', ') || 'what uses it'} keep`;
        this.print(
          `✖ ${p.folder} does not compile; ${who} running the previous build:\n${indent(result.output, this.c)}`,
        );
      }
    }
    const services = this.packages.filter(
      (p) => p.isService && !broken.has(p.name) && (buildMs.has(p.name) || batch.get(p.name) === 'restart'),
    );
    // The registry last and the gateway before it: the others re-register with a distributor that is up.
    const rank = (p: WorkspacePackage) => (p.folder === 'distributor' ? 2 : p.folder === 'gateway' ? 1 : 0);
    const replaced: string[] = [];
    const failed = [...broken].map((name) => this.packages.find((p) => p.name === name)!.folder);
    for (const tier of [0, 1, 2]) {
      await Promise.all(
        services
          .filter((p) => rank(p) === tier)
          .map(async (p) => {
            if (this.closed) return;
            const started = Date.now();
            try {
              const instances = await this.system.replace(p.folder);
              replaced.push(p.folder);
              const built = buildMs.get(p.name);
              this.print(
                `↻ ${p.folder}: ${instances.length} instance(s) replaced in ${seconds(Date.now() - started)}` +
                  (built !== undefined ? ` after a ${seconds(built)} build` : ' (migrations changed)') +
                  ` — ${seconds(Date.now() - since)} from the change`,
              );
            } catch (err) {
              failed.push(p.folder);
              if (err instanceof StartFailure) {
                this.print(
                  `✖ ${p.folder}: the new build could not start (${err.label} ${err.reason}); ` +
                    `${rank(p) === 0 ? 'the old instances keep serving' : 'it is down until the next change'}` +
                    (err.lastLines.length > 0 ? `:\n${indent(err.lastLines, this.c)}` : ''),
                );
              } else {
                this.print(`✖ ${p.folder}: not replaced: ${(err as Error).message}`);
              }
            }
          }),
      );
    }
    this.emit('reload', { replaced, failed, totalMs: Date.now() - since } satisfies Reload);
  }

  async idle(): Promise<void> {
    // Bounded: each pass waits for a round or a pending debounce; changes stop coming in a test.
    for (let pass = 0; pass < 1000 && (this.round || this.dirty.size > 0); pass++) {
      if (this.round) await this.round;
      else await new Promise((resolve) => setTimeout(resolve, this.debounceMs + 10));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    for (const watcher of this.fsWatchers) watcher.close();
    await this.compiler.stop();
  }
}

/** The compiled worker; under Jest (running src/) the one in dist/, as for the PGlite server. */
function workerScript(): string {
  const beside = path.join(__dirname, 'build-worker.js');
  return existsSync(beside) ? beside : path.join(__dirname, '..', 'dist', 'build-worker.js');
}

/** One compiler thread for all packages, started at the first build (see build-worker.ts for why). */
class Compiler {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, (result: BuildResult) => void>();
  private readonly toWarm: string[] = [];
  private stopped = false;

  build(dir: string, pretty: boolean): Promise<BuildResult> {
    if (this.stopped) return Promise.resolve({ id: 0, ok: false, output: ['the compiler was stopped'] });
    const worker = (this.worker ??= this.start());
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      worker.postMessage({ id, dir, pretty } satisfies BuildRequest);
    });
  }

  /**
   * Builds these packages in the background, one at a time and only while no other build waits, so that
   * even the first change builds on a warm compiler. A build, not only a check: a program whose files were
   * never written would write them all at the next build, which costs most of a cold one (declarations).
   * What it writes is what `npm start` built a moment before. Resolves when all are done (or it stopped).
   */
  async warm(dirs: string[]): Promise<void> {
    this.toWarm.push(...dirs);
    for (let dir = this.toWarm.shift(); dir !== undefined && !this.stopped; dir = this.toWarm.shift()) {
      // Bounded: a build asked for meanwhile goes first (at most 10 minutes of them).
      for (let wait = 0; this.pending.size > 0 && wait < 6000; wait++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await this.build(dir, false);
    }
  }

  private start(): Worker {
    const worker = new Worker(workerScript());
    worker.on('message', (result: BuildResult) => {
      this.pending.get(result.id)?.(result);
      this.pending.delete(result.id);
    });
    const fail = (why: string) => {
      for (const [id, resolve] of this.pending) resolve({ id, ok: false, output: [why] });
      this.pending.clear();
      if (this.worker === worker) this.worker = undefined; // the next build starts a new one
    };
    worker.on('error', (err) => fail(`the compiler thread failed: ${err.stack ?? err.message}`));
    worker.on('exit', (code) => fail(`the compiler thread stopped (${code})`));
    return worker;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.toWarm.length = 0;
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
