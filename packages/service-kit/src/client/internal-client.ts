import http from 'node:http';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { INTERNAL_TOKEN_HEADER, type InternalTokens } from '../auth/internal-token';
import { ServiceUnavailableError, UpstreamTimeoutError } from '../http/errors';
import { requestContext } from '../log/request-context';
import { traceparentOf } from '../trace/trace-context';
import type { RegistryView } from '../registry/watcher';

export interface InternalRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Make the call on behalf of a member (the callee sees caller.user). */
  asUser?: { id: string; role: string };
}

export interface InternalResponse<T> {
  status: number;
  data: T;
  headers: Record<string, string>;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOTFOUND',
]);

/**
 * Calls another service by its logical name: the instance comes from the registry (never a
 * hard-coded address), the request id, the trace context and an internal token go along, a slow callee times out,
 * and an idempotent call that could not reach one instance is tried once on another.
 * Answers of any status are returned; only "could not get an answer" throws (503, or 504 on timeout).
 */
export class InternalClient {
  private readonly axios: AxiosInstance;
  private readonly cursor = new Map<string, number>();

  constructor(
    private readonly registry: RegistryView,
    private readonly tokens: InternalTokens,
    private readonly defaultTimeoutMs = 3000,
  ) {
    this.axios = axios.create({
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64, timeout: 30000 }),
      validateStatus: () => true,
      maxRedirects: 0,
      // The callee's JSON comes back parsed; we never want axios to throw on a status.
      responseType: 'json',
    });
  }

  async request<T = unknown>(service: string, req: InternalRequest): Promise<InternalResponse<T>> {
    const instances = this.registry.instances(service);
    if (instances.length === 0) {
      throw new ServiceUnavailableError(`${service} service has no instance`, 'SERVICE_UNAVAILABLE', {
        service,
      });
    }
    const start = this.next(service, instances.length);
    const retryable = IDEMPOTENT.has(req.method) || Boolean(req.headers?.['idempotency-key']);
    const attempts = retryable ? Math.min(2, instances.length) : 1;
    const headers: Record<string, string> = {
      ...req.headers,
      [INTERNAL_TOKEN_HEADER]: await this.tokens.sign(
        req.asUser ? { sub: req.asUser.id, role: req.asUser.role } : {},
      ),
    };
    const store = requestContext.getStore();
    if (store) {
      headers['x-request-id'] = store.requestId;
      // The callee's hop is a child of this one. With the SDK on, its HTTP instrumentation replaces this
      // traceparent with one naming its client span (a child of the same span), so the exported spans nest.
      if (store.trace) {
        headers.traceparent = traceparentOf(store.trace);
        if (store.trace.state !== undefined) headers.tracestate = store.trace.state;
      }
    }

    let lastError: unknown;
    for (let i = 0; i < attempts; i++) {
      const instance = instances[(start + i) % instances.length]!;
      try {
        const res: AxiosResponse<T> = await this.axios.request<T>({
          method: req.method,
          url: instance.address + req.path,
          data: req.body,
          headers,
          timeout: req.timeoutMs ?? this.defaultTimeoutMs,
        });
        return { status: res.status, data: res.data, headers: res.headers as Record<string, string> };
      } catch (err) {
        lastError = err;
        const code = (err as { code?: string }).code ?? '';
        if (code === 'ECONNABORTED' || code === 'ETIMEDOUT') {
          throw new UpstreamTimeoutError(`${service} service did not answer in time`);
        }
        if (!CONNECTION_ERRORS.has(code)) break;
      }
    }
    throw new ServiceUnavailableError(`${service} service is unavailable`, 'SERVICE_UNAVAILABLE', {
      service,
      cause: (lastError as Error)?.message,
    });
  }

  private next(service: string, n: number): number {
    const i = (this.cursor.get(service) ?? -1) + 1;
    this.cursor.set(service, i % 1_000_000);
    return i % n;
  }
}
