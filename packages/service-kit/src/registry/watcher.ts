import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { DistributorHttp, backoff, sleep } from './distributor-http';
import { SseParser, type SseEvent } from './sse';
import type { InstanceRecord, InstanceStats, RegistrySnapshot } from './types';

// The distributor pings every 15 s; a stream silent for longer is dead even if TCP has not noticed.
const IDLE_TIMEOUT_MS = 40000;

export interface RegistryView {
  services(): Map<string, InstanceRecord[]>;
  instances(service: string): InstanceRecord[];
  readonly revision: number;
}

/**
 * A live copy of the registry, fed by the distributor's push stream.
 *
 * When the distributor goes away the copy is kept and used as it is: routing goes on. After a
 * reconnect, an instance missing from the new snapshot is kept for one lease ("unconfirmed") and
 * dropped only if it does not come back, so a restarted, still-empty distributor never empties
 * the table. Events: 'change' (membership), 'up', 'down', 'stats', 'connected', 'disconnected'.
 */
export class RegistryWatcher extends EventEmitter implements RegistryView {
  revision = 0;
  leaseMs = 5000;
  connected = false;
  private hadSnapshot = false;
  private readonly records = new Map<string, InstanceRecord>();
  private readonly unconfirmed = new Map<string, NodeJS.Timeout>();
  private byService = new Map<string, InstanceRecord[]>();
  private abort: AbortController | undefined;
  private stopped = false;

  constructor(
    private readonly http: DistributorHttp,
    private readonly logger: Logger,
  ) {
    super();
  }

  services(): Map<string, InstanceRecord[]> {
    return this.byService;
  }

  instances(service: string): InstanceRecord[] {
    return this.byService.get(service) ?? [];
  }

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
    for (const t of this.unconfirmed.values()) clearTimeout(t);
    this.unconfirmed.clear();
  }

  private async loop(): Promise<void> {
    for (let attempt = 0; !this.stopped;) {
      try {
        await this.stream(() => (attempt = 0));
      } catch (err) {
        if (this.stopped) return;
        if (attempt === 0)
          this.logger.warn({ err: (err as Error).message }, 'registry watch lost; keeping the last snapshot');
      }
      if (this.connected) {
        this.connected = false;
        this.emit('disconnected');
      }
      this.http.rotate();
      await sleep(backoff(attempt++, 100, 5000));
    }
  }

  private async stream(onOpen: () => void): Promise<void> {
    this.abort = new AbortController();
    const res = await fetch(this.http.baseUrl + '/registry/watch', {
      headers: { ...(await this.http.headers()), accept: 'text/event-stream' },
      signal: this.abort.signal,
    });
    if (res.status !== 200 || !res.body) throw new Error(`watch answered ${res.status}`);
    const parser = new SseParser((ev) => this.onEvent(ev));
    const decoder = new TextDecoder();
    let idle = setTimeout(() => this.abort?.abort(), IDLE_TIMEOUT_MS);
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        clearTimeout(idle);
        idle = setTimeout(() => this.abort?.abort(), IDLE_TIMEOUT_MS);
        if (!this.connected) {
          this.connected = true;
          onOpen();
          this.emit('connected');
        }
        parser.push(decoder.decode(chunk, { stream: true }));
      }
    } finally {
      clearTimeout(idle);
    }
    throw new Error('watch stream ended');
  }

  private onEvent({ event, data }: SseEvent): void {
    let msg: unknown;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (event === 'snapshot') this.applySnapshot(msg as RegistrySnapshot);
    else if (event === 'up') this.applyUp(msg as { revision: number; instance: InstanceRecord });
    else if (event === 'down')
      this.applyDown(msg as { revision: number; instanceId: string; reason: string });
    else if (event === 'stats')
      this.applyStats(msg as { instanceId: string; stats: InstanceStats; at: string });
  }

  private applySnapshot(snap: RegistrySnapshot): void {
    this.revision = snap.revision;
    this.leaseMs = snap.leaseMs ?? this.leaseMs;
    const incoming = new Set(snap.instances.map((i) => i.instanceId));
    for (const inst of snap.instances) this.confirm(inst);
    for (const id of this.records.keys()) {
      if (incoming.has(id)) continue;
      if (!this.hadSnapshot) this.records.delete(id);
      else if (!this.unconfirmed.has(id)) this.markUnconfirmed(id);
    }
    this.hadSnapshot = true;
    this.changed();
  }

  private markUnconfirmed(id: string): void {
    const timer = setTimeout(() => {
      this.unconfirmed.delete(id);
      const rec = this.records.get(id);
      if (!rec) return;
      this.records.delete(id);
      this.emit('down', { instanceId: id, service: rec.service, reason: 'not-reconfirmed' });
      this.changed();
    }, this.leaseMs);
    timer.unref();
    this.unconfirmed.set(id, timer);
  }

  private confirm(inst: InstanceRecord): void {
    const t = this.unconfirmed.get(inst.instanceId);
    if (t) {
      clearTimeout(t);
      this.unconfirmed.delete(inst.instanceId);
    }
    this.records.set(inst.instanceId, inst);
  }

  private applyUp({ revision, instance }: { revision: number; instance: InstanceRecord }): void {
    this.revision = Math.max(this.revision, revision);
    this.confirm(instance);
    this.emit('up', instance);
    this.changed();
  }

  private applyDown({
    revision,
    instanceId,
    reason,
  }: {
    revision: number;
    instanceId: string;
    reason: string;
  }): void {
    this.revision = Math.max(this.revision, revision);
    const rec = this.records.get(instanceId);
    const t = this.unconfirmed.get(instanceId);
    if (t) clearTimeout(t);
    this.unconfirmed.delete(instanceId);
    if (!rec) return;
    this.records.delete(instanceId);
    this.emit('down', { instanceId, service: rec.service, reason });
    this.changed();
  }

  private applyStats({
    instanceId,
    stats,
    at,
  }: {
    instanceId: string;
    stats: InstanceStats;
    at: string;
  }): void {
    const rec = this.records.get(instanceId);
    if (!rec) return;
    rec.stats = stats;
    rec.lastHeartbeatAt = at;
    this.emit('stats', rec);
  }

  private changed(): void {
    const next = new Map<string, InstanceRecord[]>();
    for (const rec of this.records.values()) {
      const list = next.get(rec.service);
      if (list) list.push(rec);
      else next.set(rec.service, [rec]);
    }
    for (const list of next.values()) list.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
    this.byService = next;
    this.emit('change', next);
  }
}

/** A registry view for a service that runs standalone (no distributor): always empty. */
export class EmptyRegistry extends EventEmitter implements RegistryView {
  readonly revision = 0;
  services() {
    return new Map<string, InstanceRecord[]>();
  }
  instances() {
    return [];
  }
}
