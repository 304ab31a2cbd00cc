// What the distributor keeps: instance records with a lease each, and a revision that grows with every
// change. Two stores keep it: in memory (one process) or in Redis (shared by replicas, kept over restarts).
import type { EventEmitter } from 'node:events';
import type { InstanceRecord, InstanceRegistration, InstanceStats } from './schemas';

export interface StoreOptions {
  leaseMs: number;
  now?: () => number; // tests move time by hand
}

export interface Snapshot {
  revision: number;
  instances: InstanceRecord[];
}

export type DownReason = 'deregistered' | 'lease-expired';

// The watch stream's events (docs/registry-protocol.md#watch-server-sent-events), with their name as `type`.
export type RegistryEvent =
  | { type: 'up'; revision: number; instance: InstanceRecord }
  | { type: 'down'; revision: number; instanceId: string; service: string; reason: DownReason }
  | { type: 'stats'; instanceId: string; service: string; stats: InstanceStats; at: string };

export interface StoreEvents {
  change: [RegistryEvent];
  // Changes may have been missed (the Redis subscription was lost for a while): watchers must resync.
  resync: [];
}

// An instance is listed from its registration until it deregisters or a sweep finds its lease run out (within
// one sweep interval), and each of these changes is an event. So a snapshot and the events after it always
// agree: no instance leaves a list or comes back to it without an event saying so.
export interface RegistryStore {
  readonly leaseMs: number;
  // Emits every change made through this store or, with Redis, through any replica sharing it.
  readonly events: EventEmitter<StoreEvents>;
  // Extends every stored lease by one leaseMs, so that instances which kept running while the distributor
  // was down are not evicted before they can heartbeat again. (With Redis, the first sweep after an outage
  // does the same, for the same reason.)
  start(): Promise<void>;
  stop(): Promise<void>;
  // Registers, or replaces the record of the same instanceId.
  register(registration: InstanceRegistration): Promise<{ instance: InstanceRecord; revision: number }>;
  // Renews the lease; false when the instance is unknown (the client then registers again).
  heartbeat(instanceId: string, stats?: InstanceStats): Promise<{ revision: number } | false>;
  deregister(instanceId: string): Promise<boolean>;
  // Ordered by service, then instanceId.
  list(): Promise<InstanceRecord[]>;
  snapshot(): Promise<Snapshot>;
  // Removes at most `limit` instances whose lease has run out, each with a `down`; returns how many.
  expire(limit?: number): Promise<number>;
}

export const SWEEP_LIMIT = 100;

export function byServiceThenId(a: InstanceRecord, b: InstanceRecord): number {
  return a.service.localeCompare(b.service) || a.instanceId.localeCompare(b.instanceId);
}

// Sweeps expired leases every `intervalMs` until the returned function is called. Each sweep removes at most
// SWEEP_LIMIT, and the next is scheduled only once the previous one has finished, so a slow Redis never
// piles them up.
export function sweepExpiredLeases(
  store: RegistryStore,
  intervalMs: number,
  onError: (err: unknown) => void,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let failing = false;
  const sweep = async (): Promise<void> => {
    try {
      await store.expire(SWEEP_LIMIT);
      failing = false;
    } catch (err) {
      if (!failing) onError(err); // once per outage, not four times a second
      failing = true;
    }
    if (!stopped) timer = setTimeout(sweep, intervalMs).unref();
  };
  timer = setTimeout(sweep, intervalMs).unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
