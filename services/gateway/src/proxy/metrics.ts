import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { RollingWindow } from './rolling';
import type { RouteEntry } from './route-table';
import type { Upstream, UpstreamPool } from './upstreams';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'];

/** Label children resolved once per route, so a request costs an array index, not a label lookup. */
export interface RouteStats {
  byClass: { inc(): void }[];
  duration: { observe(v: number): void };
  /** The last seconds, for the status page. */
  window: RollingWindow;
}

export interface UpstreamStats {
  byClass: { inc(): void }[];
  duration: { observe(v: number): void };
  connectFailures: { inc(): void };
  timeouts: { inc(): void };
  window: RollingWindow;
}

/**
 * Per-route and per-instance figures. Labels are route patterns and instance ids, both bounded by what is
 * registered; an instance's series are removed when it leaves. Load and ejection are read at scrape time.
 */
export class ProxyMetrics {
  private readonly requests: Counter<'method' | 'route' | 'service' | 'code_class'>;
  private readonly duration: Histogram<'method' | 'route' | 'service'>;
  private readonly upResponses: Counter<'service' | 'instance' | 'code_class'>;
  private readonly upDuration: Histogram<'service' | 'instance'>;
  private readonly upFailures: Counter<'service' | 'instance' | 'reason'>;
  readonly unmatched: RouteStats;
  /**
   * The status page's live windows, by route (`METHOD path service`) and by instance id. They outlive routing-table
   * rebuilds and an instance's departure (a lost instance still shows its last figures); `forgetInstance` drops one.
   */
  readonly routeWindows = new Map<string, RollingWindow>();
  readonly instanceWindows = new Map<string, RollingWindow>();

  constructor(registry: Registry, pool: UpstreamPool) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'gateway_requests_total',
      help: 'Requests answered by the gateway, by route pattern',
      labelNames: ['method', 'route', 'service', 'code_class'],
      registers,
    });
    this.duration = new Histogram({
      name: 'gateway_request_duration_seconds',
      help: 'Time from request to the end of the response, by route pattern',
      labelNames: ['method', 'route', 'service'],
      buckets: BUCKETS,
      registers,
    });
    this.upResponses = new Counter({
      name: 'gateway_upstream_responses_total',
      help: 'Responses received from each upstream instance',
      labelNames: ['service', 'instance', 'code_class'],
      registers,
    });
    this.upDuration = new Histogram({
      name: 'gateway_upstream_response_seconds',
      help: 'Time until an upstream instance sent its response headers',
      labelNames: ['service', 'instance'],
      buckets: BUCKETS,
      registers,
    });
    this.upFailures = new Counter({
      name: 'gateway_upstream_failures_total',
      help: 'Upstream attempts that got no response: connection failure or timeout',
      labelNames: ['service', 'instance', 'reason'],
      registers,
    });
    new Gauge({
      name: 'gateway_upstream_in_flight',
      help: 'Requests in flight to each upstream instance',
      labelNames: ['service', 'instance'],
      registers,
      collect() {
        this.reset();
        for (const u of pool.all()) this.set({ service: u.service, instance: u.instanceId }, u.inFlight);
      },
    });
    new Gauge({
      name: 'gateway_upstream_ejected',
      help: '1 while an upstream instance is ejected as an outlier',
      labelNames: ['service', 'instance'],
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const u of pool.all())
          this.set({ service: u.service, instance: u.instanceId }, u.ejectedUntil > now ? 1 : 0);
      },
    });
    this.unmatched = this.routeStats('ANY', '(unmatched)', '(none)');
  }

  forRoute(entry: RouteEntry): RouteStats {
    return this.routeStats(entry.method, entry.path, entry.service);
  }

  forUpstream(u: Upstream): UpstreamStats {
    const l = { service: u.service, instance: u.instanceId };
    return {
      byClass: CLASSES.map((c) => this.upResponses.labels({ ...l, code_class: c })),
      duration: this.upDuration.labels(l),
      connectFailures: this.upFailures.labels({ ...l, reason: 'connect' }),
      timeouts: this.upFailures.labels({ ...l, reason: 'timeout' }),
      window: this.instanceWindow(u.instanceId),
    };
  }

  instanceWindow(instanceId: string): RollingWindow {
    let w = this.instanceWindows.get(instanceId);
    if (w === undefined) this.instanceWindows.set(instanceId, (w = new RollingWindow()));
    return w;
  }

  forgetInstance(instanceId: string): void {
    this.instanceWindows.delete(instanceId);
  }

  removeUpstream(u: Upstream): void {
    const l = { service: u.service, instance: u.instanceId };
    for (const c of CLASSES) this.upResponses.remove({ ...l, code_class: c });
    this.upDuration.remove(l);
    this.upFailures.remove({ ...l, reason: 'connect' });
    this.upFailures.remove({ ...l, reason: 'timeout' });
  }

  private routeStats(method: string, route: string, service: string): RouteStats {
    const key = routeKey(method, route, service);
    let window = this.routeWindows.get(key);
    if (window === undefined) this.routeWindows.set(key, (window = new RollingWindow()));
    return {
      byClass: CLASSES.map((c) => this.requests.labels({ method, route, service, code_class: c })),
      duration: this.duration.labels({ method, route, service }),
      window,
    };
  }
}

/** Index into `byClass` for a status code. */
export function codeClass(status: number): number {
  const i = ((status / 100) | 0) - 1;
  return i < 0 ? 0 : i > 4 ? 4 : i;
}

export function routeKey(method: string, path: string, service: string): string {
  return `${method} ${path} ${service}`;
}
