import type { ProxyMetrics } from '../proxy/metrics';
import { routeKey } from '../proxy/metrics';
import type { DownEvent, InstanceRecord, InstanceStats, RegistryView } from '../proxy/registry-view';
import { counts, figuresOf, WINDOW_S, windowClock, type WindowFigures } from '../proxy/rolling';
import type { RouteTable } from '../proxy/route-table';
import type { UpstreamPool } from '../proxy/upstreams';

/**
 * What the status page shows, put together on demand from what the gateway already holds: the registry's live copy
 * (instances, their heartbeat figures), the upstream pool (ejections) and the proxy's live windows (rate, errors,
 * latency). The registry forgets an instance the moment its lease runs out; the board keeps it a while as `lost`
 * (red), so a person watching sees what went away, and keeps a short list of such events ("last alerts").
 */

export type InstanceState = 'healthy' | 'ejected' | 'lost' | 'left';
export type ServiceState = 'healthy' | 'degraded' | 'down';
export type Level = 'info' | 'warn' | 'error';

export interface InstanceStatus extends WindowFigures {
  instanceId: string;
  address: string;
  version: string;
  state: InstanceState;
  uptimeSeconds: number | null;
  cpuPercent: number | null;
  rssBytes: number | null;
  eventLoopLagMs: number | null;
  inFlight: number | null;
  lastHeartbeatAt: string | null;
  /** When it was lost or left. */
  goneAt?: string;
}

export interface ServiceStatus extends WindowFigures {
  name: string;
  state: ServiceState;
  /** Instances taking traffic (healthy or ejected). */
  live: number;
  instances: InstanceStatus[];
}

export interface RouteStatus extends WindowFigures {
  method: string;
  path: string;
  service: string;
  auth: string;
}

export interface StatusEvent {
  at: string;
  level: Level;
  service: string;
  instanceId?: string;
  text: string;
}

/** A request the gateway answered with a 5xx: its id leads to its logs. */
export interface FailedRequest {
  at: string;
  requestId: string;
  method: string;
  route: string;
  service: string;
  instance?: string;
  status: number;
}

export interface StatusSnapshot {
  at: string;
  /** Seconds the rates and latencies are measured over. */
  windowS: number;
  distributor: 'connected' | 'disconnected' | 'unknown';
  services: ServiceStatus[];
  routes: RouteStatus[];
  events: StatusEvent[];
  failures: FailedRequest[];
}

export interface BoardOptions {
  /** How long a lost or departed instance stays on the page (default 2 minutes). */
  keepGoneMs?: number;
  /** Events kept for "last alerts" (default 50). */
  maxEvents?: number;
}

interface Gone {
  record: InstanceRecord;
  reason: string;
  at: number;
}

/** Error share above which a service with every instance up is still shown as degraded. */
const DEGRADED_ERROR_RATE = 0.05;

export class StatusBoard {
  private known = new Map<string, InstanceRecord>();
  private readonly gone = new Map<string, Gone>();
  private readonly downReasons = new Map<string, string>();
  private readonly events: StatusEvent[] = [];
  private readonly failures: FailedRequest[] = [];
  private distributor: StatusSnapshot['distributor'] = 'unknown';
  private readonly keepGoneMs: number;
  private readonly maxEvents: number;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly registry: RegistryView,
    private readonly pool: UpstreamPool,
    private readonly metrics: ProxyMetrics,
    private readonly table: () => RouteTable,
    opts: BoardOptions = {},
  ) {
    this.keepGoneMs = opts.keepGoneMs ?? 120_000;
    this.maxEvents = opts.maxEvents ?? 50;
    this.known = this.current();
    registry.on('change', this.onChange);
    registry.on('down', this.onDown);
    registry.on('connected', this.onConnected);
    registry.on('disconnected', this.onDisconnected);
  }

  /** Called on every change worth pushing at once (membership, ejection, alert). */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.registry.off?.('change', this.onChange);
    this.registry.off?.('down', this.onDown);
    this.registry.off?.('connected', this.onConnected);
    this.registry.off?.('disconnected', this.onDisconnected);
    this.listeners.clear();
  }

  /** An event for "last alerts": instance lost or back, ejections, anything the gateway wants a person to see. */
  note(level: Level, service: string, text: string, instanceId?: string): void {
    const event: StatusEvent = { at: new Date(Date.now()).toISOString(), level, service, text };
    if (instanceId !== undefined) event.instanceId = instanceId;
    this.events.unshift(event);
    if (this.events.length > this.maxEvents) this.events.length = this.maxEvents;
    this.changed();
  }

  /** A 5xx answered to a client; shown at the next push (a burst of errors must not push once per error). */
  failed(f: Omit<FailedRequest, 'at'>): void {
    this.failures.unshift({ at: new Date(Date.now()).toISOString(), ...f });
    if (this.failures.length > 20) this.failures.length = 20;
  }

  snapshot(): StatusSnapshot {
    const now = Date.now();
    const clock = windowClock(); // the live windows' own (monotonic) clock
    this.forgetOld(now);
    const live = this.registry.services();
    const table = this.table();
    const names = new Set<string>(live.keys());
    for (const g of this.gone.values()) names.add(g.record.service);
    for (const e of table.entries) names.add(e.service);

    const routes: RouteStatus[] = [];
    const byService = new Map<string, Uint32Array>();
    for (const e of table.entries) {
      const w = this.metrics.routeWindows.get(routeKey(e.method, e.path, e.service));
      const c = counts();
      w?.addTo(c, clock);
      routes.push({ method: e.method, path: e.path, service: e.service, auth: e.auth, ...figuresOf(c) });
      let sum = byService.get(e.service);
      if (sum === undefined) byService.set(e.service, (sum = counts()));
      w?.addTo(sum, clock);
    }

    const services: ServiceStatus[] = [];
    for (const name of [...names].sort()) {
      const instances: InstanceStatus[] = [];
      for (const rec of live.get(name) ?? []) {
        const u = this.pool.get(rec.instanceId);
        const state: InstanceState = u !== undefined && u.ejectedUntil > now ? 'ejected' : 'healthy';
        instances.push(this.instanceStatus(rec, state, now, clock));
      }
      for (const g of this.gone.values()) {
        if (g.record.service !== name) continue;
        const state: InstanceState = g.reason === 'deregistered' ? 'left' : 'lost';
        instances.push({ ...this.instanceStatus(g.record, state, now, clock, g.at), goneAt: iso(g.at) });
      }
      const liveCount = instances.filter((i) => i.state === 'healthy' || i.state === 'ejected').length;
      const figures = figuresOf(byService.get(name) ?? counts());
      const troubled = instances.some((i) => i.state !== 'healthy' && i.state !== 'left');
      const state: ServiceState =
        liveCount === 0
          ? 'down'
          : troubled || figures.errorRate >= DEGRADED_ERROR_RATE
            ? 'degraded'
            : 'healthy';
      services.push({ name, state, live: liveCount, ...figures, instances });
    }
    return {
      at: iso(now),
      windowS: WINDOW_S,
      distributor: this.distributor,
      services,
      routes,
      events: this.events.slice(),
      failures: this.failures.slice(),
    };
  }

  private instanceStatus(
    rec: InstanceRecord,
    state: InstanceState,
    now: number,
    clock: number,
    frozenAt?: number,
  ): InstanceStatus {
    const s: InstanceStats | undefined = rec.stats;
    const beat = rec.lastHeartbeatAt ? Date.parse(rec.lastHeartbeatAt) : NaN;
    // Uptime as of the last heartbeat, moved on to now (or to when it was lost: a lost instance's clock stops).
    const until = frozenAt ?? now;
    const uptime =
      s !== undefined && !Number.isNaN(beat)
        ? s.uptimeSeconds + Math.max(0, (until - beat) / 1000)
        : (until - Date.parse(rec.registeredAt)) / 1000;
    const w = this.metrics.instanceWindows.get(rec.instanceId);
    return {
      instanceId: rec.instanceId,
      address: rec.address,
      version: rec.version,
      state,
      uptimeSeconds: Number.isFinite(uptime) ? Math.max(0, Math.round(uptime)) : null,
      cpuPercent: s?.cpuPercent ?? null,
      rssBytes: s?.rssBytes ?? null,
      eventLoopLagMs: s?.eventLoopLagMs ?? null,
      inFlight: s?.inFlight ?? null,
      lastHeartbeatAt: rec.lastHeartbeatAt ?? null,
      ...(w !== undefined ? w.figures(clock) : figuresOf(counts())),
    };
  }

  private current(): Map<string, InstanceRecord> {
    const out = new Map<string, InstanceRecord>();
    for (const list of this.registry.services().values()) for (const r of list) out.set(r.instanceId, r);
    return out;
  }

  private readonly onDown = (e: DownEvent): void => {
    this.downReasons.set(e.instanceId, e.reason);
  };

  private readonly onConnected = (): void => {
    if (this.distributor === 'disconnected') this.note('info', 'distributor', 'registry watch is back');
    this.distributor = 'connected';
    this.changed();
  };

  private readonly onDisconnected = (): void => {
    this.distributor = 'disconnected';
    this.note('warn', 'distributor', 'registry watch lost: routing on the last known registry');
  };

  private readonly onChange = (): void => {
    const now = Date.now();
    const before = this.known;
    const after = this.current();
    this.known = after;
    const liveBefore = countByService(before);
    const liveAfter = countByService(after);
    for (const [id, rec] of after) {
      if (before.has(id)) continue;
      const wasGone = this.gone.delete(id);
      this.note('info', rec.service, wasGone ? `${id} is back` : `${id} up at ${rec.address}`, id);
    }
    for (const [id, rec] of before) {
      if (after.has(id)) continue;
      const reason = this.downReasons.get(id) ?? 'lease-expired';
      this.downReasons.delete(id);
      this.gone.set(id, { record: rec, reason, at: now });
      if (reason === 'deregistered') this.note('info', rec.service, `${id} left (deregistered)`, id);
      else this.note('error', rec.service, `${id} lost (${reason})`, id);
    }
    for (const [service, n] of liveBefore) {
      if (n > 0 && !liveAfter.has(service)) this.note('error', service, `${service} has no instance left`);
    }
    for (const [service] of liveAfter) {
      if (!liveBefore.has(service) && this.wasSeen(service))
        this.note('info', service, `${service} has an instance again`);
    }
    this.forgetOld(now);
    this.changed();
  };

  /** A service the page already showed (its instances gone): coming back is news, a first start is not. */
  private wasSeen(service: string): boolean {
    for (const g of this.gone.values()) if (g.record.service === service) return true;
    return false;
  }

  private forgetOld(now: number): void {
    for (const [id, g] of this.gone) {
      if (now - g.at < this.keepGoneMs) continue;
      this.gone.delete(id);
      if (!this.known.has(id)) this.metrics.forgetInstance(id);
    }
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}

function countByService(records: Map<string, InstanceRecord>): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of records.values()) out.set(r.service, (out.get(r.service) ?? 0) + 1);
  return out;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
