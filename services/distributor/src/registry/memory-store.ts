// The registry of one process: what `npm start` uses without Redis. A restart loses it, and the kit's
// clients refill it within one heartbeat (a heartbeat answered 404 makes them register again).
import { EventEmitter } from 'node:events';
import type { InstanceRecord, InstanceRegistration, InstanceStats } from './schemas';
import {
  byServiceThenId,
  SWEEP_LIMIT,
  type RegistryEvent,
  type RegistryStore,
  type StoreEvents,
  type StoreOptions,
} from './store';

export class MemoryStore implements RegistryStore {
  readonly leaseMs: number;
  readonly events = new EventEmitter<StoreEvents>();
  private readonly now: () => number;
  private readonly records = new Map<string, InstanceRecord>();
  private revision = 0;

  constructor(options: StoreOptions) {
    this.leaseMs = options.leaseMs;
    this.now = options.now ?? Date.now;
  }

  // Nothing outlives the process, so there are no stored leases to extend.
  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  async register(registration: InstanceRegistration) {
    const at = this.isoIn(0);
    const instance = {
      ...registration,
      registeredAt: at,
      lastHeartbeatAt: at,
      leaseExpiresAt: this.isoIn(this.leaseMs),
    };
    this.records.set(instance.instanceId, instance);
    const revision = ++this.revision;
    this.emit({ type: 'up', revision, instance });
    return { instance, revision };
  }

  async heartbeat(instanceId: string, stats?: InstanceStats) {
    const record = this.records.get(instanceId);
    if (!record) return false;
    const at = this.isoIn(0);
    // Records are replaced, never changed in place: a record already handed out stays as it was.
    this.records.set(instanceId, {
      ...record,
      lastHeartbeatAt: at,
      leaseExpiresAt: this.isoIn(this.leaseMs),
      ...(stats && { stats }),
    });
    if (stats) this.emit({ type: 'stats', instanceId, service: record.service, stats, at });
    return { revision: this.revision };
  }

  async deregister(instanceId: string): Promise<boolean> {
    return this.remove(instanceId, 'deregistered');
  }

  async list(): Promise<InstanceRecord[]> {
    return [...this.records.values()].sort(byServiceThenId);
  }

  async snapshot() {
    return { revision: this.revision, instances: await this.list() };
  }

  async expire(limit = SWEEP_LIMIT): Promise<number> {
    const now = this.isoIn(0);
    const expired = [...this.records.values()].filter((r) => r.leaseExpiresAt <= now).slice(0, limit);
    for (const record of expired) this.remove(record.instanceId, 'lease-expired');
    return expired.length;
  }

  private remove(instanceId: string, reason: 'deregistered' | 'lease-expired'): boolean {
    const record = this.records.get(instanceId);
    if (!record) return false;
    this.records.delete(instanceId);
    this.emit({ type: 'down', revision: ++this.revision, instanceId, service: record.service, reason });
    return true;
  }

  // ISO times of one format compare correctly as strings.
  private isoIn(ms: number): string {
    return new Date(this.now() + ms).toISOString();
  }

  private emit(event: RegistryEvent): void {
    this.events.emit('change', event);
  }
}
