import { EventEmitter } from 'node:events';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, jwtVerify, type JSONWebKeySet, type KeyLike } from 'jose';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createGateway, type Gateway, type GatewayOptions } from '../src/proxy/handler';
import type { InstanceRecord, RouteSpec } from '../src/proxy/registry-view';

export const SECRET = new TextEncoder().encode('gateway-test-secret-gateway-test-secret');

/** A registry the test owns: the gateway sees exactly what the test puts in, as it would from the kit's watcher. */
export class TestRegistry extends EventEmitter {
  private readonly records = new Map<string, InstanceRecord>();
  private clock = Date.parse('2025-01-01T00:00:00Z');

  services(): Map<string, InstanceRecord[]> {
    const out = new Map<string, InstanceRecord[]>();
    for (const r of this.records.values()) out.set(r.service, [...(out.get(r.service) ?? []), r]);
    return out;
  }

  up(
    service: string,
    address: string,
    routes: RouteSpec[],
    instanceId = `${service}-${this.records.size + 1}`,
  ) {
    this.clock += 1000;
    const now = new Date(this.clock).toISOString();
    this.records.set(instanceId, {
      service,
      instanceId,
      address,
      version: '1.0.0',
      routes,
      registeredAt: now,
      lastHeartbeatAt: now,
      leaseExpiresAt: now,
    });
    this.emit('change');
    return instanceId;
  }

  down(instanceId: string): void {
    this.records.delete(instanceId);
    this.emit('change');
  }
}

export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A real HTTP server standing in for one registered instance: it answers JSON naming itself and records what it
 * received. `behaviour` changes its answers (status, delay) from the test.
 */
export class FakeUpstream {
  readonly seen: Seen[] = [];
  status = 200;
  delayMs = 0;
  /** Never answer (until killed): a stuck instance. */
  hang = false;
  private server!: http.Server;
  address = '';

  constructor(readonly name: string) {}

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.answer(req, res));
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.address = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Stops listening and drops its connections: the instance is dead, the registry does not know yet. */
  async kill(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeAllConnections();
    await closed;
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      this.seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const send = () => {
        const payload = JSON.stringify({ instance: this.name, url: req.url, body });
        res.writeHead(this.status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          'x-request-id': 'upstream-must-not-win',
          'keep-alive': 'timeout=30',
          // What Express and most servers announce: the gateway must not pass it on.
          'x-powered-by': 'Express',
          server: 'upstream/1.2.3',
        });
        res.end(payload);
      };
      if (this.hang) return;
      if (this.delayMs > 0) setTimeout(send, this.delayMs);
      else send();
    });
  }
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** A raw HTTP(S) request: the path goes out exactly as written (no URL normalisation), so tricks reach the gateway. */
export function call(
  base: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Answer> {
  const url = new URL(base);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      {
        host: url.hostname,
        port: url.port,
        method: opts.method ?? 'GET',
        path,
        headers: opts.headers,
        agent: false,
        rejectUnauthorized: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode!, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

export const route = (
  method: RouteSpec['method'],
  path: string,
  extra: Partial<RouteSpec> = {},
): RouteSpec => ({ method, path, public: true, auth: 'none', ...extra });

/** The member service's signing keys, as the gateway would fetch them from GET /internal/jwks. */
export async function memberKeys(kid = 'k1') {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return { privateKey, jwks: { keys: [jwk] } as JSONWebKeySet, kid };
}

export function memberToken(
  key: KeyLike,
  kid: string,
  claims: { sub?: string; role?: string } = {},
  expiresIn: string | number = '15m',
): Promise<string> {
  let jwt = new SignJWT({ role: claims.role ?? 'customer' })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuedAt()
    .setExpirationTime(expiresIn);
  if (claims.sub !== undefined) jwt = jwt.setSubject(claims.sub);
  return jwt.sign(key);
}

/** What the upstream can read from the internal token the gateway forwarded. */
export async function internalClaims(token: string | string[] | undefined) {
  const { payload } = await jwtVerify(String(token), SECRET, { audience: 'msa-internal' });
  return payload;
}

export const signer = {
  async sign(claims: { sub?: string; role?: string } = {}) {
    let jwt = new SignJWT(claims.role ? { role: claims.role } : {})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('gateway')
      .setAudience('msa-internal')
      .setIssuedAt()
      .setExpirationTime('60s');
    if (claims.sub) jwt = jwt.setSubject(claims.sub);
    return jwt.sign(SECRET);
  },
};

export interface TestGateway {
  url: string;
  gateway: Gateway;
  metrics: Registry;
  server: http.Server;
  stop(): Promise<void>;
}

/** The proxy on a real node:http server on port 0; what it declines stands in for Express's own routes. */
export async function startGateway(
  registry: TestRegistry,
  overrides: Partial<GatewayOptions> = {},
): Promise<TestGateway> {
  const metrics = new Registry();
  const gateway = createGateway({
    registry,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    metricsRegistry: metrics,
    signer,
    fetchJwks: async () => ({ keys: [] }),
    rateLimit: { points: 0, windowS: 1 },
    bodyLimitBytes: 1024,
    ...overrides,
  });
  const server = http.createServer((req, res) => {
    if (gateway.handle(req, res)) return;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('own route');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    gateway,
    metrics,
    server,
    async stop() {
      gateway.close();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Polls until `check` holds (bounded): for state that settles asynchronously, never a timing assertion. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  tries = 200,
): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never happened: ${what}`);
}
