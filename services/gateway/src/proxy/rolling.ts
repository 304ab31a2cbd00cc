/**
 * Live figures for the status page: the last few seconds of one route's or one instance's traffic, in a ring of
 * one-second slots. A slot holds a request count, an error count (5xx) and a small fixed-bucket latency histogram,
 * all in one typed array, so recording a request is a few integer increments: no allocation, no sorting, O(1).
 * Prometheus keeps the long history (`/metrics`); this keeps only what a person watching the page needs.
 */

/** Upper bounds of the latency buckets, in milliseconds (the last bucket is everything slower). */
const BOUNDS_MS = [
  0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10000,
];
const BUCKETS = BOUNDS_MS.length + 1;
const STRIDE = 2 + BUCKETS; // [count, errors, ...buckets]
/** Seconds of history kept; figures are read over the last WINDOW_S complete seconds. */
const SLOTS = 12;
export const WINDOW_S = 10;

/**
 * The windows' clock: monotonic milliseconds on the epoch scale. The proxy records with the `performance.now()` it
 * already took for its latency figures (plus this origin), so recording costs no clock call of its own; readers use
 * `windowClock()`, the same scale.
 */
const ORIGIN = performance.timeOrigin;
export function windowClock(): number {
  return ORIGIN + performance.now();
}
export function atPerfNow(perfNow: number): number {
  return ORIGIN + perfNow;
}

export interface WindowFigures {
  /** Requests per second. */
  rate: number;
  /** Share of 5xx answers, 0..1. */
  errorRate: number;
  /** Latency percentiles in ms; null with no request in the window. */
  p50: number | null;
  p99: number | null;
  /** Requests counted in the window. */
  count: number;
}

export class RollingWindow {
  private readonly data = new Uint32Array(SLOTS * STRIDE);
  private readonly stamps = new Float64Array(SLOTS).fill(-1);

  /** One answered request: its status and its latency in ms. */
  record(status: number, ms: number, nowMs: number = windowClock()): void {
    const sec = Math.floor(nowMs / 1000);
    const slot = sec % SLOTS;
    const base = slot * STRIDE;
    const data = this.data;
    if (this.stamps[slot] !== sec) {
      this.stamps[slot] = sec;
      data.fill(0, base, base + STRIDE);
    }
    data[base]!++;
    if (status >= 500) data[base + 1]!++;
    let b = 0;
    while (b < BOUNDS_MS.length && ms > BOUNDS_MS[b]!) b++;
    data[base + 2 + b]!++;
  }

  /** Adds this window's complete seconds in [now - WINDOW_S, now) into `into` (a `counts()` array). */
  addTo(into: Uint32Array, nowMs: number = windowClock()): void {
    const now = Math.floor(nowMs / 1000);
    for (let sec = now - WINDOW_S; sec < now; sec++) {
      const slot = sec % SLOTS;
      if (this.stamps[slot] !== sec) continue;
      const base = slot * STRIDE;
      for (let i = 0; i < STRIDE; i++) into[i]! += this.data[base + i]!;
    }
  }

  figures(nowMs: number = windowClock()): WindowFigures {
    const c = counts();
    this.addTo(c, nowMs);
    return figuresOf(c);
  }
}

/** An empty accumulator for `addTo`, to merge several windows (a service's routes) into one set of figures. */
export function counts(): Uint32Array {
  return new Uint32Array(STRIDE);
}

export function figuresOf(c: Uint32Array): WindowFigures {
  const count = c[0]!;
  return {
    rate: round(count / WINDOW_S),
    errorRate: count === 0 ? 0 : round(c[1]! / count, 3),
    p50: percentile(c, count, 0.5),
    p99: percentile(c, count, 0.99),
    count,
  };
}

/** The bucket holding the q-th request, interpolated linearly inside it (as Prometheus' histogram_quantile does). */
function percentile(c: Uint32Array, count: number, q: number): number | null {
  if (count === 0) return null;
  const rank = q * count;
  let seen = 0;
  for (let b = 0; b < BUCKETS; b++) {
    const n = c[2 + b]!;
    if (n === 0 || seen + n < rank) {
      seen += n;
      continue;
    }
    if (b === BOUNDS_MS.length) return BOUNDS_MS[b - 1]!; // slower than the last bound: say the bound
    const lo = b === 0 ? 0 : BOUNDS_MS[b - 1]!;
    const hi = BOUNDS_MS[b]!;
    return round(lo + ((hi - lo) * (rank - seen)) / n);
  }
  return BOUNDS_MS[BOUNDS_MS.length - 1]!;
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
