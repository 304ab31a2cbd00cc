import FindMyWay from 'find-my-way';
import type { Balanced } from './balancer';
import type { HttpMethod, InstanceRecord, RouteSpec } from './registry-view';
import type { Upstream, UpstreamPool } from './upstreams';

export const DEFAULT_TIMEOUT_MS = 5000;

/** One public route as the gateway serves it. */
export interface RouteEntry extends Balanced {
  method: HttpMethod;
  path: string;
  service: string;
  auth: RouteSpec['auth'];
  timeoutMs: number;
  /** Per-route metric handles, resolved once per table build (see metrics.ts). */
  stats: unknown;
}

export interface RouteTable {
  readonly entries: readonly RouteEntry[];
  match(method: string, path: string): RouteEntry | null;
}

export interface Conflict {
  method: string;
  path: string;
  kept: string;
  ignored: string;
}

const AUTH_RANK = { none: 0, user: 1, admin: 2 } as const;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** `/products/:id` and `/products/:pid` are the same route to a router. */
function routeKey(method: string, path: string): string {
  return method + ' ' + path.replace(/:[^/]+/g, ':').toLowerCase();
}

function earliest(instances: InstanceRecord[]): number {
  let min = Infinity;
  for (const i of instances) {
    const t = Date.parse(i.registeredAt);
    if (t < min) min = t;
  }
  return Number.isNaN(min) ? Infinity : min;
}

/**
 * Builds the routing table from a registry snapshot. Only `public: true` routes are taken.
 *
 * A route two services both claim goes to the service that has been registered the longest (its earliest live
 * instance is oldest; equal times: the name that sorts first): a newcomer cannot take over a route that already
 * works. The ignored claim is reported in `conflicts`.
 *
 * Instances of one service may disagree during a rolling update: a route is served by the instances that registered
 * it, with the strictest `auth` and the longest `timeoutMs` any of them asks for.
 *
 * `remembered` holds the public routes of services that have no instance now; they stay in the table with no
 * upstream, so a client gets "no healthy instance" (503) rather than "no such route" (404).
 */
export function buildRouteTable(
  services: Map<string, InstanceRecord[]>,
  pool: UpstreamPool,
  remembered: Map<string, RouteSpec[]>,
  statsFor: (entry: RouteEntry) => unknown,
): { table: RouteTable; conflicts: Conflict[] } {
  const order = [...services.entries()]
    .filter(([, instances]) => instances.length > 0)
    .sort(([a, ai], [b, bi]) => earliest(ai) - earliest(bi) || (a < b ? -1 : a > b ? 1 : 0));
  const byKey = new Map<string, RouteEntry>();
  const entries: RouteEntry[] = [];
  const conflicts: Conflict[] = [];

  const claim = (service: string, spec: RouteSpec, upstream: Upstream | null): void => {
    if (!spec.public || !METHODS.has(spec.method) || typeof spec.path !== 'string') return;
    const key = routeKey(spec.method, spec.path);
    const existing = byKey.get(key);
    if (existing !== undefined && existing.service !== service) {
      if (!conflicts.some((c) => c.ignored === service && routeKey(c.method, c.path) === key)) {
        conflicts.push({ method: spec.method, path: spec.path, kept: existing.service, ignored: service });
      }
      return;
    }
    const timeoutMs =
      spec.timeoutMs !== undefined && spec.timeoutMs > 0 ? spec.timeoutMs : DEFAULT_TIMEOUT_MS;
    const auth = spec.auth in AUTH_RANK ? spec.auth : 'admin';
    if (existing === undefined) {
      const entry: RouteEntry = {
        method: spec.method,
        path: spec.path,
        service,
        auth,
        timeoutMs,
        upstreams: [],
        cursor: 0,
        stats: undefined,
      };
      byKey.set(key, entry);
      entries.push(entry);
      if (upstream !== null) entry.upstreams.push(upstream);
      return;
    }
    if (AUTH_RANK[auth] > AUTH_RANK[existing.auth]) existing.auth = auth;
    if (timeoutMs > existing.timeoutMs) existing.timeoutMs = timeoutMs;
    if (upstream !== null && !existing.upstreams.includes(upstream)) existing.upstreams.push(upstream);
  };

  for (const [service, instances] of order) {
    const seen = new Map<string, RouteSpec>();
    for (const rec of instances) {
      const upstream = pool.get(rec.instanceId) ?? null;
      if (upstream === null) continue;
      for (const spec of rec.routes ?? []) {
        claim(service, spec, upstream);
        if (spec.public) seen.set(routeKey(spec.method, spec.path), spec);
      }
    }
    remembered.set(service, [...seen.values()]);
  }
  for (const [service, routes] of [...remembered].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (services.get(service)?.length) continue;
    for (const spec of routes) claim(service, spec, null);
  }

  const router = FindMyWay({
    ignoreTrailingSlash: true,
    caseSensitive: false, // as Express matches by default, so the gateway and the services agree
    querystringParser: () => EMPTY_QUERY, // the query is the upstream's business; do not parse it per request
  });
  const routed: RouteEntry[] = [];
  for (const entry of entries) {
    try {
      router.on(entry.method, entry.path, noop, entry);
      routed.push(entry);
    } catch (err) {
      conflicts.push({ method: entry.method, path: entry.path, kept: '(router)', ignored: entry.service });
      void err;
    }
  }
  // Express answers HEAD with its GET route; so does the gateway, unless a service registered HEAD itself.
  for (const entry of routed) {
    if (entry.method !== 'GET' || byKey.has(routeKey('HEAD', entry.path))) continue;
    try {
      router.on('HEAD', entry.path, noop, entry);
    } catch {
      // a HEAD route the router considers the same already exists
    }
  }
  for (const entry of routed) entry.stats = statsFor(entry);
  router.compile();

  const table: RouteTable = {
    entries: routed,
    match(method, path) {
      const found = router.find(method as FindMyWay.HTTPMethod, path);
      return found === null ? null : (found.store as RouteEntry);
    },
  };
  return { table, conflicts };
}

const EMPTY_QUERY = Object.freeze({});
function noop(): void {}
