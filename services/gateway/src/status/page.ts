import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeJwt } from 'jose';
import type { Logger } from 'pino';
import { sendError } from '../proxy/errors';
import { securityHeaders } from '../proxy/headers';
import { readAsset, sendAsset, type Asset } from '../static-assets';
import {
  InvalidTokenError,
  KeysUnavailableError,
  type JwtVerifier,
  type MemberClaims,
} from '../proxy/jwt-cache';
import type { StatusBoard } from './board';

/**
 * The live status page, served by the gateway itself on both ports, for admins only:
 *
 *   GET    /status            the page (HTML; holds no data, so it needs no sign-in)
 *   GET    /status/app.js     its script, /status/app.css its style (a strict CSP allows nothing else)
 *   POST   /status/session    Authorization: Bearer <admin member token> → 204 and the session cookie
 *   DELETE /status/session    signs out (clears the cookie)
 *   GET    /status/events     Server-Sent Events: the whole picture at once, then every second and on every change
 *   GET    /status/snapshot   the same picture once, as JSON (cookie or bearer token: for curl and scripts)
 *
 * A browser's EventSource cannot send an Authorization header, so the page signs in through member's public login
 * (POST /members/login, through the gateway), hands the token to POST /status/session once, and the gateway puts it in
 * an HttpOnly, SameSite=Strict cookie limited to /status (Secure on HTTPS) that lives until the token's own `exp`.
 * Any gateway replica can check it (it is the member's signed token, verified as on any route, and cached); scripts
 * on the page never see it, and no other site can make a browser send it.
 */

export const COOKIE = 'msa_status';
const STATIC_DIR = path.join(__dirname, '..', '..', 'static');

export interface StatusPageOptions {
  board: StatusBoard;
  jwt: JwtVerifier;
  logger: Logger;
  /** The rate limit, by client address: milliseconds to wait, 0 to go on (not for the page's own files). */
  limit?: (key: string) => number;
  /** How often the picture is pushed while someone watches (default 1000 ms). */
  pushMs?: number;
}

export function isStatusPath(p: string): boolean {
  return (
    p.startsWith('/status') &&
    (p.length === 7 || p.charCodeAt(7) === 47 /* / */ || p.charCodeAt(7) === 63) /* ? */
  );
}

export class StatusPage {
  private readonly assets: Record<string, Asset>;
  private readonly watchers = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: StatusPageOptions) {
    const read = (name: string, type: string): Asset => readAsset(path.join(STATIC_DIR, name), type);
    this.assets = {
      '/status': read('status.html', 'text/html; charset=utf-8'),
      '/status/app.js': read('status.js', 'text/javascript; charset=utf-8'),
      '/status/app.css': read('status.css', 'text/css; charset=utf-8'),
    };
    // Membership changes and alerts go out at once (coalesced), not at the next tick.
    this.unsubscribe = opts.board.subscribe(() => {
      if (this.watchers.size > 0 && this.soon === null) this.soon = setTimeout(() => this.push(), 50).unref();
    });
  }

  get watching(): number {
    return this.watchers.size;
  }

  handle(
    req: IncomingMessage,
    res: ServerResponse,
    target: string,
    requestId: string,
    secure: boolean,
  ): void {
    const q = target.indexOf('?');
    const p = q === -1 ? target : target.slice(0, q);
    const method = req.method ?? 'GET';
    const asset = this.assets[p === '/status/' ? '/status' : p];
    if (asset !== undefined) {
      if (method !== 'GET' && method !== 'HEAD') return notAllowed(res, 'GET, HEAD', requestId, secure);
      sendAsset(res, method, asset, requestId, secure);
      return;
    }
    req.resume(); // no route here reads a body
    // Before any token check, as on proxied routes: a flood of made-up tokens is limited per address first.
    const wait = this.opts.limit?.('ip:' + (req.socket.remoteAddress ?? '')) ?? 0;
    if (wait > 0) {
      sendError(res, 429, 'RATE_LIMITED', 'too many requests', requestId, secure, [
        'retry-after',
        String(Math.ceil(wait / 1000)),
      ]);
      return;
    }
    if (p === '/status/session') {
      if (method === 'POST') return void this.signIn(req, res, requestId, secure);
      if (method === 'DELETE') {
        res.writeHead(204, [
          'set-cookie',
          cookie('', 0, secure),
          'x-request-id',
          requestId,
          ...securityHeaders(secure),
        ]);
        res.end();
        return;
      }
      return notAllowed(res, 'POST, DELETE', requestId, secure);
    }
    if (p === '/status/events' || p === '/status/snapshot') {
      if (method !== 'GET') return notAllowed(res, 'GET', requestId, secure);
      void this.admin(req, res, requestId, secure).then((ok) => {
        if (!ok) return;
        if (p === '/status/events') this.watch(res, requestId, secure);
        else sendJson(res, 200, this.opts.board.snapshot(), requestId, secure);
      });
      return;
    }
    sendError(res, 404, 'NOT_FOUND', `no route for ${method} ${p.slice(0, 200)}`, requestId, secure);
  }

  /** Ends every stream (shutdown begins, so they do not hold the server open) and refuses new ones. */
  close(): void {
    this.closed = true;
    this.unsubscribe();
    if (this.timer !== null) clearInterval(this.timer);
    if (this.soon !== null) clearTimeout(this.soon);
    this.timer = this.soon = null;
    for (const res of this.watchers) res.end();
    this.watchers.clear();
  }

  private async signIn(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    secure: boolean,
  ): Promise<void> {
    const token = bearer(req.headers.authorization);
    if (token === null) {
      sendError(
        res,
        401,
        'UNAUTHORIZED',
        'send an admin member token as Authorization: Bearer',
        requestId,
        secure,
        ['www-authenticate', 'Bearer'],
      );
      return;
    }
    const claims = await this.check(token, res, requestId, secure, true);
    if (claims === null) return;
    const exp = decodeJwt(token).exp ?? 0;
    const maxAge = Math.max(0, Math.floor(exp - Date.now() / 1000));
    this.opts.logger.info({ requestId, user: claims.sub }, 'status page session opened');
    res.writeHead(204, [
      'set-cookie',
      cookie(token, maxAge, secure),
      'cache-control',
      'no-store',
      'x-request-id',
      requestId,
      ...securityHeaders(secure),
    ]);
    res.end();
  }

  /** True when the request carries an admin's token (the session cookie, or a bearer header); answers otherwise. */
  private async admin(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    secure: boolean,
  ): Promise<boolean> {
    const fromCookie = cookieValue(req.headers.cookie);
    const token = fromCookie ?? bearer(req.headers.authorization);
    if (token === null) {
      sendError(res, 401, 'UNAUTHORIZED', 'sign in to the status page first', requestId, secure);
      return false;
    }
    return (await this.check(token, res, requestId, secure, fromCookie === null)) !== null;
  }

  private async check(
    token: string,
    res: ServerResponse,
    requestId: string,
    secure: boolean,
    fromHeader: boolean,
  ): Promise<MemberClaims | null> {
    let claims = this.opts.jwt.cached(token);
    if (claims === undefined) {
      try {
        claims = await this.opts.jwt.verify(token);
      } catch (err) {
        if (err instanceof KeysUnavailableError) {
          sendError(
            res,
            503,
            'SERVICE_UNAVAILABLE',
            'member service is unavailable to verify the token',
            requestId,
            secure,
          );
          return null;
        }
        if (!(err instanceof InvalidTokenError))
          this.opts.logger.error({ err, requestId }, 'token check failed');
        claims = null;
      }
    }
    if (claims === null) {
      const extra = fromHeader ? ['www-authenticate', 'Bearer'] : ['set-cookie', cookie('', 0, secure)];
      sendError(res, 401, 'UNAUTHORIZED', 'the token is invalid or has expired', requestId, secure, extra);
      return null;
    }
    if (claims.role !== 'admin') {
      sendError(res, 403, 'FORBIDDEN', 'the status page is for admins', requestId, secure);
      return null;
    }
    return claims;
  }

  private watch(res: ServerResponse, requestId: string, secure: boolean): void {
    if (this.closed) {
      sendError(res, 503, 'SERVICE_UNAVAILABLE', 'the gateway is shutting down', requestId, secure);
      return;
    }
    if (res.destroyed) return;
    res.writeHead(200, [
      'content-type',
      'text/event-stream',
      'cache-control',
      'no-store',
      'x-accel-buffering',
      'no',
      'x-request-id',
      requestId,
      ...securityHeaders(secure),
    ]);
    res.socket?.setNoDelay(true);
    this.watchers.add(res);
    res.on('close', () => {
      this.watchers.delete(res);
      if (this.watchers.size === 0 && this.timer !== null) {
        clearInterval(this.timer);
        this.timer = null;
      }
    });
    res.write(frame(JSON.stringify(this.opts.board.snapshot())));
    this.timer ??= setInterval(() => this.push(), this.opts.pushMs ?? 1000).unref();
  }

  /** One snapshot, serialised once, to every watcher. A watcher that stops reading is dropped. */
  private push(): void {
    if (this.soon !== null) clearTimeout(this.soon);
    this.soon = null;
    if (this.watchers.size === 0) return;
    const chunk = frame(JSON.stringify(this.opts.board.snapshot()));
    for (const res of this.watchers) {
      if (res.writableLength > 1024 * 1024) res.destroy();
      else res.write(chunk);
    }
  }
}

function frame(json: string): string {
  return `event: status\ndata: ${json}\n\n`;
}

function cookie(value: string, maxAge: number, secure: boolean): string {
  return `${COOKIE}=${value}; Path=/status; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

function cookieValue(header: string | undefined): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === COOKIE) {
      const v = part.slice(eq + 1).trim();
      return v === '' ? null : v;
    }
  }
  return null;
}

function bearer(header: string | undefined): string | null {
  if (header === undefined || !/^bearer /i.test(header)) return null;
  const token = header.slice(7).trim();
  return token === '' ? null : token;
}

function notAllowed(res: ServerResponse, allow: string, requestId: string, secure: boolean): void {
  sendError(res, 405, 'METHOD_NOT_ALLOWED', `use ${allow}`, requestId, secure, ['allow', allow]);
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  requestId: string,
  secure: boolean,
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, [
    'content-type',
    'application/json; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(text)),
    'cache-control',
    'no-store',
    'x-request-id',
    requestId,
    ...securityHeaders(secure),
  ]);
  res.end(text);
}
