/**
 * What a child tells the runner over the IPC channel (`process.send`), once when its server is
 * listening and once when it is ready (the moment /health/ready would answer 200):
 *
 *   { type: 'listening', service: 'purchase', instanceId: 'purchase-host-1234-ab12', pid: 1234, url: 'http://127.0.0.1:41234' }
 *   { type: 'ready',     service: 'purchase', instanceId: 'purchase-host-1234-ab12', pid: 1234, url: 'http://127.0.0.1:41234' }
 *
 * An instance with an admin listener adds `adminUrl` (metrics, and the gateway's internal routes). Extra fields
 * are kept and passed on (the gateway adds `httpsUrl`).
 */
export interface KitMessage {
  type: 'listening' | 'ready';
  service: string;
  instanceId: string;
  pid: number;
  url: string;
  httpsUrl?: string;
  adminUrl?: string;
  [extra: string]: unknown;
}

export function isKitMessage(value: unknown): value is KitMessage {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as Record<string, unknown>;
  return (
    (message.type === 'listening' || message.type === 'ready') &&
    typeof message.service === 'string' &&
    typeof message.instanceId === 'string' &&
    typeof message.pid === 'number' &&
    typeof message.url === 'string'
  );
}
