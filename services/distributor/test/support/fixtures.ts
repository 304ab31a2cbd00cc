import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { InstanceRegistration } from '../../src/registry/schemas';
import type { RegistryEvent, StoreEvents } from '../../src/registry/store';

export const REDIS_URL = process.env.REDIS_URL;
// Tests that need Redis say so in their name and are skipped without REDIS_URL.
export const describeWithRedis = REDIS_URL ? describe : describe.skip;

// One key prefix per test file (and per test where needed), so parallel test files never meet in Redis.
export function uniquePrefix(name: string): string {
  return `msa-test:distributor:${name}:${randomUUID()}:`;
}

export function registration(overrides: Partial<InstanceRegistration> = {}): InstanceRegistration {
  const service = overrides.service ?? 'purchase';
  return {
    service,
    instanceId: `${service}-host-1234-${randomUUID().slice(0, 8)}`,
    address: 'http://127.0.0.1:4100',
    version: '0.1.0',
    routes: [{ method: 'POST', path: '/purchases', public: true, auth: 'user' }],
    ...overrides,
  };
}

export const someStats = {
  cpuPercent: 12.5,
  rssBytes: 80_000_000,
  heapUsedBytes: 30_000_000,
  eventLoopLagMs: 1.25,
  inFlight: 3,
  uptimeSeconds: 42,
};

// Keeps what arrives; waitFor resolves with the first item (already seen or still to come) that matches.
export class Recorder<T> {
  readonly seen: T[] = [];
  private waiters: { match: (item: T) => boolean; resolve: (item: T) => void }[] = [];

  push(item: T): void {
    this.seen.push(item);
    const matched = this.waiters.filter((w) => w.match(item));
    this.waiters = this.waiters.filter((w) => !matched.includes(w));
    for (const waiter of matched) waiter.resolve(item);
  }

  waitFor(match: (item: T) => boolean): Promise<T> {
    const found = this.seen.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }
}

// Records every change a store reports.
export function recordEvents(events: EventEmitter<StoreEvents>): Recorder<RegistryEvent> {
  const recorder = new Recorder<RegistryEvent>();
  events.on('change', (event) => recorder.push(event));
  return recorder;
}
