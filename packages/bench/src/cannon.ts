// autocannon, run in this process (which the benchmarks pin to the load-generator core).
import autocannon from 'autocannon';

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  /** Connection errors and timeouts. */
  errors: number;
  /** Responses that were not 2xx. */
  non2xx: number;
  statuses: Record<string, number>;
}

export async function load(opts: autocannon.Options): Promise<LoadResult> {
  const r = await autocannon({ connections: 50, ...opts });
  return summarize(r);
}

export function summarize(r: autocannon.Result): LoadResult {
  const statuses: Record<string, number> = {};
  const codes =
    (r as unknown as { statusCodeStats?: Record<string, { count: number }> }).statusCodeStats ?? {};
  for (const [code, { count }] of Object.entries(codes)) statuses[code] = Number(count);
  const seconds = r.duration > 0 ? r.duration : 1;
  return {
    requests: r.requests.total,
    rps: r.requests.total / seconds,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    statuses,
  };
}
