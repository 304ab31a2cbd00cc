import { Agent } from 'node:http';
import type { InstanceRecord } from './registry-view';
import type { UpstreamStats } from './metrics';
import type { OutlierState } from './outlier';

/** One upstream instance as the gateway sees it: where it is, its keep-alive pool, its load and its health. */
export class Upstream implements OutlierState {
  readonly hostname: string;
  readonly port: number;
  /** `host:port`, the Host header sent to it. */
  readonly hostHeader: string;
  readonly agent: Agent;
  inFlight = 0;
  /**
   * Requests in flight here per client address, for the share one client may hold of this instance's sockets
   * (see Forwarder). Only clients with a request in flight are in it.
   */
  readonly inFlightByClient = new Map<string, number>();
  consecutiveFailures = 0;
  ejectedUntil = 0;
  timesEjected = 0;
  lastFailureAt = 0;
  /** Metric handles, resolved on first use. */
  stats: UpstreamStats | undefined = undefined;
  /** Gone from the registry; its sockets close once the requests still on it are done. */
  retired = false;

  constructor(
    readonly service: string,
    readonly instanceId: string,
    readonly address: string,
  ) {
    const url = new URL(address);
    this.hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.port = Number(url.port || 80);
    this.hostHeader = url.host;
    // LIFO reuse keeps a few hot sockets busy and lets the rest idle out, fewer stale-socket races.
    this.agent = new Agent({ keepAlive: true, maxSockets: 128, maxFreeSockets: 128, scheduling: 'lifo' });
  }

  /**
   * The instance left the registry. A graceful instance deregisters first and then drains, so requests already
   * on their way finish; only idle sockets close now, the rest once the last request is done (see `done`).
   */
  retire(): void {
    this.retired = true;
    if (this.inFlight === 0) {
      this.agent.destroy();
      return;
    }
    for (const sockets of Object.values(this.agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
  }

  /** How many requests of `client` are in flight here. */
  inFlightOf(client: string): number {
    return this.inFlightByClient.get(client) ?? 0;
  }

  /** One request of `client` to this instance begins. */
  begin(client: string): void {
    this.inFlight++;
    this.inFlightByClient.set(client, this.inFlightOf(client) + 1);
  }

  /** One request of `client` to this instance is over. */
  done(client: string): void {
    const n = this.inFlightOf(client) - 1;
    if (n > 0) this.inFlightByClient.set(client, n);
    else this.inFlightByClient.delete(client);
    if (--this.inFlight === 0 && this.retired) this.agent.destroy();
  }
}

/**
 * The live upstreams, one per registered instance, kept across routing-table rebuilds so that keep-alive sockets,
 * load counts and ejection state survive a registry change. An instance that leaves is dropped and its sockets closed.
 */
export class UpstreamPool {
  private readonly byId = new Map<string, Upstream>();
  private readonly byService = new Map<string, Upstream[]>();

  constructor(private readonly onRemove?: (u: Upstream) => void) {}

  get(instanceId: string): Upstream | undefined {
    return this.byId.get(instanceId);
  }

  ofService(service: string): readonly Upstream[] {
    return this.byService.get(service) ?? [];
  }

  all(): IterableIterator<Upstream> {
    return this.byId.values();
  }

  sync(services: Map<string, InstanceRecord[]>): void {
    const seen = new Set<string>();
    this.byService.clear();
    for (const [service, instances] of services) {
      const list: Upstream[] = [];
      for (const rec of instances) {
        let u = this.byId.get(rec.instanceId);
        if (u !== undefined && (u.address !== rec.address || u.service !== service)) {
          this.drop(u);
          u = undefined;
        }
        if (u === undefined) {
          try {
            u = new Upstream(service, rec.instanceId, rec.address);
          } catch {
            continue; // an address that is not a URL cannot be routed to
          }
          this.byId.set(rec.instanceId, u);
        }
        seen.add(rec.instanceId);
        list.push(u);
      }
      this.byService.set(service, list);
    }
    for (const u of [...this.byId.values()]) if (!seen.has(u.instanceId)) this.drop(u);
  }

  close(): void {
    for (const u of [...this.byId.values()]) this.drop(u);
    this.byService.clear();
  }

  private drop(u: Upstream): void {
    this.byId.delete(u.instanceId);
    u.retire();
    this.onRemove?.(u);
  }
}
