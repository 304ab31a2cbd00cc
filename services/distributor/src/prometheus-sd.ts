// Prometheus's HTTP service discovery (https://prometheus.io/docs/prometheus/latest/http_sd/): the registry's
// live instances as scrape targets, so a Prometheus pointed here follows every scale-up and lost instance.
// Open like /metrics (Prometheus cannot sign internal tokens): it lists only what /metrics listeners are,
// and the distributor listens on the private network only.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PROBLEM_CONTENT_TYPE, problem } from '@msa/service-kit';
import type { InstanceRecord } from './registry/schemas';
import type { RegistryStore } from './registry/store';

export const PROMETHEUS_SD_PATH = '/prometheus/targets';

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** One group per instance: its metrics address, with the service, instance id and version as labels. */
export function targetGroups(instances: InstanceRecord[]): TargetGroup[] {
  const groups: TargetGroup[] = [];
  for (const instance of instances) {
    const url = URL.parse(instance.metricsUrl ?? `${instance.address.replace(/\/$/, '')}/metrics`);
    if (url === null) continue;
    groups.push({
      targets: [url.host],
      labels: {
        __scheme__: url.protocol.slice(0, -1),
        __metrics_path__: url.pathname,
        service: instance.service,
        instance_id: instance.instanceId,
        version: instance.version,
      },
    });
  }
  return groups;
}

/** The kit's raw handler for the distributor: answers GET /prometheus/targets, leaves the rest to Express. */
export function prometheusSd(store: RegistryStore): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = req.url?.split('?')[0];
    // Other methods fall through to the kit, which answers them as it answers any unknown call.
    if (path !== PROMETHEUS_SD_PATH || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    store.snapshot().then(
      ({ instances }) => {
        res.writeHead(200, {
          'content-type': 'application/json; charset=utf-8',
          'cache-control': 'no-store',
        });
        res.end(req.method === 'HEAD' ? undefined : JSON.stringify(targetGroups(instances)));
      },
      () => {
        // Prometheus keeps the last good list when discovery fails: a 503 is the honest answer.
        const body = problem({
          status: 503,
          code: 'REGISTRY_UNAVAILABLE',
          detail: 'the registry store (Redis) is unreachable',
          instance: '',
        });
        res.writeHead(503, { 'content-type': PROBLEM_CONTENT_TYPE });
        res.end(JSON.stringify(body));
      },
    );
    return true;
  };
}
