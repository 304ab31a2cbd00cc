// The slice of the registry the gateway reads. It matches the kit's RegistryClient (docs/registry-protocol.md),
// so the proxy can be built and tested without the kit: tests hand it a tiny in-memory registry.

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteSpec {
  method: HttpMethod;
  path: string;
  public: boolean;
  auth: 'none' | 'user' | 'admin';
  timeoutMs?: number;
}

export interface InstanceRecord {
  service: string;
  instanceId: string;
  address: string;
  version: string;
  routes: RouteSpec[];
  registeredAt: string;
  lastHeartbeatAt?: string;
  leaseExpiresAt?: string;
  /** The process figures of its last heartbeat (docs/registry-protocol.md, InstanceStats). */
  stats?: InstanceStats;
}

export interface InstanceStats {
  cpuPercent: number;
  rssBytes: number;
  heapUsedBytes: number;
  eventLoopLagMs: number;
  inFlight: number;
  uptimeSeconds: number;
}

export interface DownEvent {
  instanceId: string;
  service: string;
  /** deregistered | lease-expired | not-reconfirmed */
  reason: string;
}

export interface RegistryView {
  services(): Map<string, InstanceRecord[]>;
  on(event: 'change', listener: () => void): unknown;
  // The kit's watcher also says why an instance left and whether the distributor's stream is up (status page).
  on(event: 'down', listener: (e: DownEvent) => void): unknown;
  on(event: 'connected' | 'disconnected', listener: () => void): unknown;
  off?(event: 'change', listener: () => void): unknown;
  off?(event: 'down', listener: (e: DownEvent) => void): unknown;
  off?(event: 'connected' | 'disconnected', listener: () => void): unknown;
}
