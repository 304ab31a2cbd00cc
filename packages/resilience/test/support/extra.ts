// Processes a test owns beside the runner's: one more service instance with its own settings, a TCP
// proxy that can be cut, a private redis-server. Each is stopped by its own handle (pid or server).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { freePort, REPO_ROOT, sleep, type Shop } from './shop';

export interface ExtraInstance {
  child: ChildProcess;
  url: string;
  pid: number;
  output: string[];
  stop(): Promise<void>;
}

/** One more instance of `service`, registered at the shop's distributor, with the given env on top. */
export async function startExtraInstance(
  shop: Shop,
  service: string,
  env: Record<string, string>,
): Promise<ExtraInstance> {
  const childEnv: NodeJS.ProcessEnv = {
    ...shop.env,
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: '0',
    INTERNAL_TOKEN_SECRET: shop.system.internalTokenSecret,
    DISTRIBUTOR_URL: shop.system.distributorUrl,
    DATA_DIR: path.join(shop.system.rootDir, '.data'),
    DATABASE_URL: shop.system.databases[service],
    ...env,
  };
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'services', service, 'dist', 'main.js')], {
    env: childEnv,
    cwd: path.join(REPO_ROOT, 'services', service),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => output.push(...chunk.toString().split('\n').filter(Boolean));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${service} extra not ready:\n${output.join('\n')}`)),
      30000,
    );
    child.on('message', (m: { type?: string; url?: string }) => {
      if (m.type === 'ready' && m.url) {
        clearTimeout(timer);
        resolve(m.url);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${service} extra exited with ${code}:\n${output.join('\n')}`));
    });
  });
  return {
    child,
    url,
    pid: child.pid!,
    output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** A TCP proxy on a fixed loopback port; `cut()` closes it and every connection, `restore()` listens again. */
export class CuttableProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  static async create(targetUrl: string): Promise<CuttableProxy> {
    const url = new URL(targetUrl);
    const proxy = new CuttableProxy(await freePort(), { host: url.hostname, port: Number(url.port || 5432) });
    await proxy.restore();
    return proxy;
  }

  /** targetUrl with host:port replaced by the proxy's. */
  urlFor(targetUrl: string): string {
    const url = new URL(targetUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  async restore(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}

export const hasRedisServer = (): boolean => spawnSync('redis-server', ['--version']).status === 0;

/** A private redis-server (no persistence) that the test may stop and start again on the same port. */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  static async create(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    for (let i = 0; i < 100; i++) {
      if (await canConnect(this.port)) return;
      if (child.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
