import type { Logger } from 'pino';
import { DistributorHttp, backoff, sleep } from './distributor-http';
import type { ProcessStats } from './process-stats';
import type { InstanceRegistration } from './types';

/**
 * Keeps this instance registered: registers with backoff until the distributor answers, renews the
 * lease by heartbeat (with the process figures), registers again when the distributor answers that
 * it does not know us (it restarted with an empty memory), and deregisters on shutdown.
 */
export class Registrar {
  registered = false;
  private stopped = false;
  private leaseMs = 5000;
  private timer: NodeJS.Timeout | undefined;
  private registering: Promise<void> | undefined;
  private outage = false;
  private readonly waiters: Array<() => void> = [];

  constructor(
    private readonly http: DistributorHttp,
    private registration: InstanceRegistration,
    private readonly stats: ProcessStats,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.ensureRegistering();
  }

  /** Resolves once the first registration succeeded. */
  whenRegistered(): Promise<void> {
    return this.registered ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }

  private ensureRegistering(): void {
    this.registering ??= this.registerLoop().finally(() => (this.registering = undefined));
  }

  private async registerLoop(): Promise<void> {
    const path = `/registry/instances/${encodeURIComponent(this.registration.instanceId)}`;
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const res = await this.http.call('PUT', path, this.registration);
        if (res.status === 200) {
          const body = res.data as { leaseMs?: number };
          this.leaseMs = body.leaseMs ?? this.leaseMs;
          this.registered = true;
          if (this.outage) this.logger.info('registered at the distributor again');
          this.outage = false;
          this.logger.debug({ distributor: this.http.baseUrl }, 'registered');
          this.waiters.splice(0).forEach((w) => w());
          this.scheduleHeartbeat();
          return;
        }
        // A distributor older than `metricsUrl` refuses it as an unknown field: register without it (the
        // protocol's fallback is address/metrics), so a new instance still joins an old registry.
        if (
          res.status === 400 &&
          this.registration.metricsUrl &&
          JSON.stringify(res.data).includes('metricsUrl')
        ) {
          const { metricsUrl: _dropped, ...older } = this.registration;
          this.registration = older;
          this.logger.warn('the distributor does not know metricsUrl: registering without it');
          continue;
        }
        // A 4xx is our own bug (bad registration): say it loudly, keep trying in case it is a rolling upgrade.
        this.logger.error({ status: res.status, body: res.data }, 'distributor refused the registration');
      } catch (err) {
        this.noteOutage(err);
      }
      await sleep(backoff(attempt));
    }
  }

  private scheduleHeartbeat(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.heartbeat(), Math.max(100, this.leaseMs / 3));
    this.timer.unref();
  }

  private async heartbeat(): Promise<void> {
    const path = `/registry/instances/${encodeURIComponent(this.registration.instanceId)}/heartbeat`;
    try {
      const res = await this.http.call('POST', path, { stats: this.stats.sample() });
      if (res.status === 404) {
        this.logger.warn('distributor does not know this instance (it restarted?): registering again');
        this.registered = false;
        this.ensureRegistering();
        return;
      }
      if (this.outage) this.logger.info('distributor reachable again');
      this.outage = false;
    } catch (err) {
      this.noteOutage(err);
    }
    this.scheduleHeartbeat();
  }

  private noteOutage(err: unknown): void {
    if (!this.outage) {
      this.logger.warn(
        { err: (err as Error).message },
        'distributor unreachable; retrying in the background',
      );
    }
    this.outage = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.registered) return;
    const path = `/registry/instances/${encodeURIComponent(this.registration.instanceId)}`;
    await this.http.call('DELETE', path).catch(() => undefined);
    this.registered = false;
  }
}
