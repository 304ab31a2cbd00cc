import type { OutlierDetector } from './outlier';
import type { Upstream } from './upstreams';

/** What the balancer needs from a route: its instances and a cursor that makes ties take turns. */
export interface Balanced {
  upstreams: Upstream[];
  cursor: number;
}

/**
 * Least outstanding requests, ties broken round robin: the scan starts one further each call, and only a strictly
 * smaller load displaces the first candidate. Ejected instances are skipped; when every instance is ejected (a
 * route served by a subset of the service) they are used anyway, as a 502 beats a 503 that hides them.
 * `exclude` is the instance a retry must avoid. Returns undefined when there is no instance to try.
 */
export function pickUpstream(
  route: Balanced,
  outlier: OutlierDetector,
  now: number,
  exclude?: Upstream,
): Upstream | undefined {
  const list = route.upstreams;
  const n = list.length;
  if (n === 0) return undefined;
  const start = route.cursor++ % n;
  if (route.cursor > 0x3fffffff) route.cursor = 0;
  let best: Upstream | undefined;
  let fallback: Upstream | undefined;
  for (let k = 0; k < n; k++) {
    const u = list[(start + k) % n]!;
    if (u === exclude) continue;
    if (outlier.isEjected(u, now)) {
      if (fallback === undefined) fallback = u;
      continue;
    }
    if (best === undefined || u.inFlight < best.inFlight) best = u;
  }
  return best ?? fallback;
}

/**
 * For a client that holds its whole share (`perClient` requests in flight) of the instance pickUpstream chose: the
 * least loaded other instance where it still has room, or undefined. An ejected instance only when the route has
 * no other: a client over its share of the healthy ones is told to wait, not sent to a failing one.
 */
export function pickWithRoom(
  route: Balanced,
  outlier: OutlierDetector,
  now: number,
  client: string,
  perClient: number,
): Upstream | undefined {
  let best: Upstream | undefined;
  let fallback: Upstream | undefined;
  let healthy = false;
  for (const u of route.upstreams) {
    const ejected = outlier.isEjected(u, now);
    healthy ||= !ejected;
    if (u.inFlightOf(client) >= perClient) continue;
    if (ejected) fallback ??= u;
    else if (best === undefined || u.inFlight < best.inFlight) best = u;
  }
  return best ?? (healthy ? undefined : fallback);
}
