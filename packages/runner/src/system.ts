import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { databaseNameFor, ensureDatabase, redact } from './databases';
import { createEmbeddedPostgres, databaseUrls } from './embedded-postgres';
import { readSettings, serviceEnv, type RunnerSettings } from './environment';
import { colors, indent, prettyLogs, Prefixer, readyLine, stdoutTakesColor, type Colors } from './output';
import {
  defaultRestartPolicy,
  describeExit,
  StartFailure,
  SupervisedProcess,
  type ExitInfo,
  type InstanceInfo,
  type RestartPolicy,
} from './process';
import { discoverServices, planServices, UsageError, type PlannedService } from './services';

export interface StartSystemOptions {
  /** The repository root holding services/; defaults to this checkout. */
  rootDir?: string;
  /** Instances per service (default 1 each; 0 leaves one out), e.g. { purchase: 3 }. */
  scale?: Record<string, number>;
  /** Start only these services (and the distributor). */
  only?: string[];
  /** The environment the children inherit and the runner's settings come from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Do not echo the children's output (it is still kept for failure reports) and print nothing by default. */
  quiet?: boolean;
  /** Where the runner's own lines go (ready lines, restarts, failures); default stdout unless quiet. */
  print?: (line: string) => void;
  /** Aborting it during start-up stops what was started and rejects. */
  signal?: AbortSignal;
  /** How long one instance may take to become ready (default 30 s). */
  startTimeoutMs?: number;
  /** How long a stopping child may take before it is killed (default 15 s). */
  stopTimeoutMs?: number;
  restart?: Partial<RestartPolicy>;
  /** Colour the output (default: only when printing to a terminal that supports it). */
  color?: boolean;
  /** Show the services' JSON log lines as pino-pretty text (default true; the CLI's --json-logs turns it off). */
  prettyLogs?: boolean;
  /** Database names on a real server are `<prefix>_<service>` (default msa). */
  databasePrefix?: string;
}

/** A running system, for `npm start`, fault-injection tests and benchmarks. Instance indexes are 1-based, as printed. */
export interface RunningSystem extends EventEmitter {
  readonly rootDir: string;
  readonly internalTokenSecret: string;
  readonly distributorUrl: string | undefined;
  readonly gatewayUrl: string | undefined;
  readonly gatewayHttpsUrl: string | undefined;
  /** The gateway's admin listener: /metrics and /internal/*, never on the URLs above. */
  readonly gatewayAdminUrl: string | undefined;
  /** DATABASE_URL given to each service that has migrations. */
  readonly databases: Readonly<Record<string, string>>;
  /** Every service instance, live: state, pid, url, restarts. */
  readonly instances: InstanceInfo[];
  /** The embedded Postgres servers (none when DATABASE_URL is set). */
  readonly databaseServers: InstanceInfo[];
  instance(service: string, index?: number): InstanceInfo;
  /** Signals an instance as an outsider would (default SIGKILL); it is restarted with backoff. */
  kill(service: string, index?: number, signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** Resolves at the instance's next `ready` (e.g. after kill); rejects if the runner gives up on it. */
  nextReady(service: string, index?: number): Promise<InstanceInfo>;
  /** Stops an instance on purpose and starts it again. */
  restart(service: string, index?: number): Promise<InstanceInfo>;
  /** Stops an instance on purpose; it is not restarted. */
  stopInstance(service: string, index?: number): Promise<void>;
  /** Starts one more instance of a service and resolves when it is ready. */
  addInstance(service: string): Promise<InstanceInfo>;
  /**
   * Replaces every instance of a service with a fresh process (new code after a rebuild), resolving with
   * the new instances. A service on a free port is replaced rolling: the new instances start next to the
   * old ones and only when all are ready are the old ones stopped (deregister, drain), so no request fails;
   * if one cannot start, the new ones are stopped and the old ones keep serving (it rejects with the
   * StartFailure). The distributor and the gateway listen on fixed ports, so they are stopped first.
   */
  replace(service: string): Promise<InstanceInfo[]>;
  /** The services this system runs, with their folders and planned counts. */
  readonly services: readonly PlannedService[];
  /** Prints a line where the runner prints its own (stdout, or the `print` option). */
  print(line: string): void;
  /** SIGTERM to every instance, SIGKILL after stopTimeoutMs, then the distributor, then the databases. */
  stop(): Promise<void>;
  /** SIGKILL to every child at once. */
  forceStop(): void;
}

/** This checkout: the runner lives in <root>/packages/runner. */
export function defaultRootDir(): string {
  return path.resolve(__dirname, '..', '..', '..');
}

/**
 * Starts the whole system: databases and the distributor first, then every other service in
 * parallel. Resolves when every instance is ready; if one cannot start, stops the rest and
 * rejects with a StartFailure naming it.
 */
export async function startSystem(options: StartSystemOptions = {}): Promise<RunningSystem> {
  const rootDir = path.resolve(options.rootDir ?? defaultRootDir());
  const parentEnv = options.env ?? process.env;
  const settings = readSettings(parentEnv, rootDir);
  const { services, unbuilt } = discoverServices(rootDir);
  const plan = planServices(services, { scale: options.scale, only: options.only, unbuilt });
  if (plan.length === 0) {
    throw new UsageError(`no service to start: no services/*/dist/main.js under ${rootDir}`);
  }
  const system = new System(rootDir, settings, parentEnv, options);
  const skipped = unbuilt.filter((name) => !options.only || options.only.includes(name));
  if (skipped.length > 0) system.print(`Not built, so not started: ${skipped.join(', ')}`);
  await system.boot(plan);
  return system;
}

class System extends EventEmitter implements RunningSystem {
  distributorUrl: string | undefined;
  gatewayUrl: string | undefined;
  gatewayHttpsUrl: string | undefined;
  gatewayAdminUrl: string | undefined;
  readonly databases: Record<string, string> = {};
  private readonly plan = new Map<string, PlannedService>();
  private readonly groups = new Map<string, SupervisedProcess[]>();
  private readonly dbServers: SupervisedProcess[] = [];
  private readonly c: Colors;
  private readonly prefixer: Prefixer;
  private readonly format: (line: string) => string[];
  private readonly restartPolicy: RestartPolicy;
  private readonly startTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private stopping: Promise<void> | undefined;
  // Children live in their own process groups, so if the runner dies they must be killed here.
  private readonly killOnExit = (): void => this.forceStop();

  constructor(
    readonly rootDir: string,
    private readonly settings: RunnerSettings,
    private readonly parentEnv: NodeJS.ProcessEnv,
    private readonly options: StartSystemOptions,
  ) {
    super();
    this.restartPolicy = { ...defaultRestartPolicy, ...options.restart };
    this.startTimeoutMs = options.startTimeoutMs ?? 30_000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 15_000;
    const color = options.color ?? (!options.print && stdoutTakesColor());
    this.c = colors(color);
    this.prefixer = new Prefixer(0, this.c);
    this.format = options.prettyLogs === false ? (line) => [line] : prettyLogs(color);
  }

  get internalTokenSecret(): string {
    return this.settings.internalTokenSecret;
  }

  get instances(): InstanceInfo[] {
    return [...this.groups.values()].flat().map((proc) => proc.info);
  }

  get services(): PlannedService[] {
    return [...this.plan.values()];
  }

  get databaseServers(): InstanceInfo[] {
    return this.dbServers.map((proc) => proc.info);
  }

  print(line: string): void {
    if (this.options.print) this.options.print(line);
    else if (!this.options.quiet) process.stdout.write(`${line}\n`);
  }

  async boot(plan: PlannedService[]): Promise<void> {
    const signal = this.options.signal;
    const abort = (): void => void this.stop();
    signal?.addEventListener('abort', abort, { once: true });
    process.on('exit', this.killOnExit);
    for (const service of plan) {
      this.plan.set(service.name, service);
      for (let index = 1; index <= service.count; index++) this.prefixer.widen(`${service.name}#${index}`);
    }
    const instanceCount = plan.reduce((sum, s) => sum + s.count, 0);
    this.print(`Starting ${instanceCount} instance(s) of ${plan.length} service(s): ${describePlan(plan)}`);
    try {
      if (signal?.aborted) throw new Error('start cancelled');
      mkdirSync(this.settings.dataDir, { recursive: true });
      const databasesReady = this.prepareDatabases(plan.filter((s) => s.hasDatabase));
      databasesReady.catch(() => undefined); // awaited below; keeps an early failure from going unhandled
      const distributor = plan.find((s) => s.role === 'distributor');
      if (distributor) {
        const [info] = await this.startService(distributor);
        this.distributorUrl = info?.url;
      }
      await databasesReady;
      await Promise.all(plan.filter((s) => s !== distributor).map((s) => this.startService(s)));
      const gateway = this.groups.get('gateway')?.[0]?.info;
      this.gatewayUrl = gateway?.url;
      this.gatewayHttpsUrl = gateway?.ready?.httpsUrl;
      this.gatewayAdminUrl = gateway?.ready?.adminUrl;
      const urls =
        [this.gatewayUrl, this.gatewayHttpsUrl].filter(Boolean).join('  ') +
        (this.gatewayAdminUrl ? `  (admin: ${this.gatewayAdminUrl})` : '');
      this.print(
        `✔ System ready: ${instanceCount} instance(s) of ${plan.length} service(s). ` +
          (urls ? `Gateway: ${urls}` : 'No gateway service yet.'),
      );
    } catch (err) {
      if (this.stopping || signal?.aborted) {
        await this.stop();
        throw new Error('start cancelled');
      }
      if (err instanceof StartFailure) {
        // Quiet (a test, a tool) prints nothing: the error itself then carries the instance's last lines.
        if (this.options.quiet && !this.options.print && err.lastLines.length > 0) {
          err.message += `\n  last output of ${err.label}:\n${err.lastLines.map((l) => `    ${l}`).join('\n')}`;
        }
        this.print(`✖ ${err.message}`);
        if (err.lastLines.length > 0)
          this.print(`  last output of ${err.label}:\n${indent(err.lastLines, this.c)}`);
      } else {
        this.print(`✖ ${(err as Error).message}`);
      }
      this.print('Stopping the rest…');
      await this.stop();
      throw err;
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  private async prepareDatabases(services: PlannedService[]): Promise<void> {
    const serverUrl = this.settings.databaseUrl;
    if (serverUrl) {
      for (const service of services) {
        const name = databaseNameFor(service.name, this.options.databasePrefix);
        this.databases[service.name] = await ensureDatabase(serverUrl, name);
        this.print(`✔ ${service.name} uses database ${name} on ${redact(serverUrl)}`);
      }
      return;
    }
    if (services.length === 0) return;
    const databases = services.map((service) => ({
      service: service.name,
      dataDir: path.join(this.settings.dataDir, service.name, 'pgdata'),
      instances: service.count,
    }));
    // One process for all (the default: a Node process and its ~100 MB once, not per service), or one each.
    const groups =
      this.settings.embeddedDbProcesses === 'one' ? [databases] : databases.map((database) => [database]);
    await Promise.all(
      groups.map(async (group) => {
        const server = createEmbeddedPostgres({
          databases: group,
          env: this.parentEnv,
          cwd: this.rootDir,
          stopTimeoutMs: this.stopTimeoutMs,
          restart: this.restartPolicy,
          settings: this.settings.embeddedDbSettings,
        });
        this.dbServers.push(server);
        this.prefixer.widen(server.label);
        this.supervise(server, group.length === 1 ? group[0]!.service : server.label);
        const info = await server.start();
        Object.assign(this.databases, databaseUrls(info));
      }),
    );
  }

  private startService(service: PlannedService): Promise<InstanceInfo[]> {
    const starts: Promise<InstanceInfo>[] = [];
    for (let index = 1; index <= service.count; index++) starts.push(this.createInstance(service).start());
    return Promise.all(starts);
  }

  private createInstance(service: PlannedService): SupervisedProcess {
    const group = this.groups.get(service.name) ?? [];
    this.groups.set(service.name, group);
    const proc = this.newProcess(service, group.length + 1);
    group.push(proc);
    return proc;
  }

  /** A supervised process for one instance, echoed and reported, not yet in its group nor started. */
  private newProcess(service: PlannedService, index: number): SupervisedProcess {
    const proc = new SupervisedProcess({
      service: service.name,
      index,
      script: service.main,
      env: serviceEnv(service, this.settings, this.parentEnv, {
        distributorUrl: service.role === 'distributor' ? '' : (this.distributorUrl ?? ''),
        databaseUrl: this.databases[service.name],
      }),
      cwd: service.dir,
      readyTimeoutMs: this.startTimeoutMs,
      stopTimeoutMs: this.stopTimeoutMs,
      restart: this.restartPolicy,
    });
    this.prefixer.widen(proc.label);
    this.supervise(proc, service.name);
    return proc;
  }

  /** Echoes a child's output under its prefix and reports its ready lines, restarts and give-ups. */
  private supervise(proc: SupervisedProcess, colourKey: string): void {
    proc.on('line', (line: { text: string }) => {
      if (this.options.quiet) return;
      const prefix = this.prefixer.prefix(colourKey, proc.label);
      for (const text of this.format(line.text)) this.print(`${prefix} ${text}`);
    });
    proc.on('ready', (info: InstanceInfo, restarted: boolean) => {
      this.print(readyLine(info, restarted, this.c));
      this.emit('ready', info, restarted);
    });
    proc.on('exit', (exit: ExitInfo, expected: boolean) => this.emit('exit', proc.info, exit, expected));
    proc.on('restarting', (event: { exit: ExitInfo; delayMs: number; crashesInARow: number }) => {
      this.print(
        `↻ ${proc.label} ${describeExit(event.exit)}; restarting it in ${formatMs(event.delayMs)}` +
          (event.crashesInARow > 1 ? ` (crash ${event.crashesInARow} in a row)` : ''),
      );
      this.emit('restarting', proc.info, event);
    });
    proc.on('gave-up', (event: { exit: ExitInfo; crashesInARow: number; lastLines: string[] }) => {
      this.print(
        `✖ ${proc.label} ${describeExit(event.exit)} after ${event.crashesInARow} quick crashes in a row; ` +
          `not restarting it. Last output:\n${indent(event.lastLines, this.c)}`,
      );
      this.emit('gave-up', proc.info, event);
    });
  }

  private find(service: string, index = 1): SupervisedProcess {
    const proc = this.groups.get(service)?.[index - 1];
    if (!proc) throw new Error(`no instance ${service}#${index}`);
    return proc;
  }

  instance(service: string, index = 1): InstanceInfo {
    return this.find(service, index).info;
  }

  kill(service: string, index = 1, signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitInfo> {
    return this.find(service, index).kill(signal);
  }

  nextReady(service: string, index = 1): Promise<InstanceInfo> {
    const proc = this.find(service, index);
    return new Promise((resolve, reject) => {
      const onReady = (info: InstanceInfo): void => {
        proc.off('gave-up', onGaveUp);
        resolve(info);
      };
      const onGaveUp = (): void => {
        proc.off('ready', onReady);
        reject(new Error(`${proc.label} keeps crashing; the runner gave up on it`));
      };
      proc.once('ready', onReady);
      proc.once('gave-up', onGaveUp);
    });
  }

  async restart(service: string, index = 1): Promise<InstanceInfo> {
    const proc = this.find(service, index);
    await proc.stop();
    return proc.start();
  }

  stopInstance(service: string, index = 1): Promise<void> {
    return this.find(service, index).stop();
  }

  addInstance(service: string): Promise<InstanceInfo> {
    const planned = this.plan.get(service);
    if (!planned) throw new Error(`${service} is not part of this system`);
    if (planned.role !== 'service') throw new Error(`${service} listens on a fixed port; it runs once`);
    return this.createInstance(planned).start();
  }

  async replace(service: string): Promise<InstanceInfo[]> {
    const planned = this.plan.get(service);
    if (!planned) throw new Error(`${service} is not part of this system`);
    if (this.stopping) throw new Error('the system is stopping');
    const group = this.groups.get(service) ?? [];
    // Instances stopped on purpose (stopInstance) stay stopped; crashed and given-up ones get the new code too.
    const live = group.filter((proc) => proc.info.state !== 'stopped');
    if (planned.role !== 'service') {
      // A fixed port cannot be shared: stop, then start (the same restart as `restart`).
      return Promise.all(
        live.map(async (proc) => {
          await proc.stop();
          return proc.start();
        }),
      );
    }
    const fresh = live.map((old) => this.newProcess(planned, old.info.index));
    const started = await Promise.allSettled(fresh.map((proc) => proc.start()));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(fresh.map((proc) => proc.stop()));
      throw failed.reason;
    }
    if (this.stopping) {
      // Stopped meanwhile: stop() only knew the old ones.
      await Promise.all(fresh.map((proc) => proc.stop()));
      throw new Error('the system is stopping');
    }
    for (const [i, old] of live.entries()) group[group.indexOf(old)] = fresh[i]!;
    await Promise.all(live.map((old) => old.stop()));
    return fresh.map((proc) => proc.info);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const all = [...this.groups.values()].flat();
      // The distributor goes after the others so that they can still deregister from it.
      const distributor = this.groups.get('distributor') ?? [];
      await Promise.all(all.filter((p) => !distributor.includes(p)).map((p) => p.stop(this.stopTimeoutMs)));
      await Promise.all(distributor.map((p) => p.stop(this.stopTimeoutMs)));
      await Promise.all(this.dbServers.map((p) => p.stop(this.stopTimeoutMs)));
      process.off('exit', this.killOnExit);
    })();
    return this.stopping;
  }

  forceStop(): void {
    for (const proc of [...this.groups.values()].flat()) proc.forceKill();
    for (const proc of this.dbServers) proc.forceKill();
  }
}

function describePlan(plan: PlannedService[]): string {
  return plan.map((s) => (s.count === 1 ? s.name : `${s.name}×${s.count}`)).join(', ');
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${ms / 1000} s`;
}
