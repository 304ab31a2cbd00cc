// The registry's data, as docs/registry-protocol.md defines it.
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type RouteAuth = 'none' | 'user' | 'admin';

export interface RouteSpec {
  method: HttpMethod;
  path: string;
  public: boolean;
  auth: RouteAuth;
  timeoutMs?: number;
}

export interface InstanceRegistration {
  service: string;
  instanceId: string;
  address: string;
  version: string;
  routes: RouteSpec[];
  /** Where Prometheus scrapes this instance (optional: `${address}/metrics` when absent). */
  metricsUrl?: string;
}

export interface InstanceStats {
  cpuPercent: number;
  rssBytes: number;
  heapUsedBytes: number;
  eventLoopLagMs: number;
  inFlight: number;
  uptimeSeconds: number;
}

export interface InstanceRecord extends InstanceRegistration {
  registeredAt: string;
  lastHeartbeatAt: string;
  leaseExpiresAt: string;
  stats?: InstanceStats;
}

export interface RegistrySnapshot {
  revision: number;
  leaseMs: number;
  instances: InstanceRecord[];
}
