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
}

export interface RegistryView {
  services(): Map<string, InstanceRecord[]>;
  on(event: 'change', listener: () => void): unknown;
  off?(event: 'change', listener: () => void): unknown;
}
