/**
 * Passive outlier ejection: an instance that fails `failures` times in a row (connection failure, timeout, or a
 * 502/503/504 from it) is left out of the balancing for `baseEjectMs` × the number of times it was ejected, at most
 * `maxEjectMs`, and then simply re-admitted (no timer: the balancer compares the clock). Its ejection count is
 * forgotten after `maxEjectMs` of clean service after its re-admission, so an instance that recovered starts again from the base time.
 *
 * The last instance is never ejected: an ejection is refused while every other instance of the service is ejected
 * already. One instance failing alone still gets the traffic; a 502 from it is more honest than a 503 that hides it.
 */

export interface OutlierState {
  readonly service: string;
  readonly instanceId: string;
  consecutiveFailures: number;
  ejectedUntil: number;
  timesEjected: number;
  lastFailureAt: number;
}

export interface OutlierOptions {
  failures: number;
  baseEjectMs: number;
  maxEjectMs: number;
}

export const DEFAULT_OUTLIER: OutlierOptions = { failures: 3, baseEjectMs: 5000, maxEjectMs: 30000 };

export class OutlierDetector {
  constructor(
    private readonly opts: OutlierOptions,
    /** The live instances of a service, to keep the last one in. */
    private readonly peersOf: (service: string) => readonly OutlierState[],
    private readonly onEject?: (s: OutlierState, ms: number) => void,
  ) {}

  isEjected(s: OutlierState, now: number): boolean {
    return s.ejectedUntil > now;
  }

  success(s: OutlierState): void {
    if (s.consecutiveFailures !== 0) s.consecutiveFailures = 0;
  }

  failure(s: OutlierState, now: number): void {
    // Clean time counts from the last failure or the end of the last ejection, whichever is later.
    if (now - Math.max(s.lastFailureAt, s.ejectedUntil) > this.opts.maxEjectMs) s.timesEjected = 0;
    s.lastFailureAt = now;
    s.consecutiveFailures++;
    if (s.consecutiveFailures < this.opts.failures || this.isEjected(s, now)) return;
    if (!this.othersAvailable(s, now)) return;
    s.timesEjected++;
    const ms = Math.min(this.opts.baseEjectMs * s.timesEjected, this.opts.maxEjectMs);
    s.ejectedUntil = now + ms;
    s.consecutiveFailures = 0;
    this.onEject?.(s, ms);
  }

  private othersAvailable(s: OutlierState, now: number): boolean {
    for (const peer of this.peersOf(s.service)) {
      if (peer !== s && !this.isEjected(peer, now)) return true;
    }
    return false;
  }
}
