import type { Logger } from '@msa/service-kit';
import type { AlertGrouper } from './grouper';

export interface ErrorLine {
  id: string;
  time: string;
  service: string;
  message?: string;
  requestId?: string;
}

/** Error lines with a time in [from, to), or null when the logging service cannot be asked. */
export type FetchErrors = (from: string, to: string) => Promise<ErrorLine[] | null>;

/**
 * Polls the logging service for error lines (level error and above) and raises an alert for each
 * service with at least `threshold` of them in a window, with their request ids to look up. The
 * window trails the clock by `lagMs`, so lines still on their way (shipping, indexing) are counted
 * in the window they belong to, once.
 */
export class ErrorBursts {
  private from: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly fetchErrors: FetchErrors,
    private readonly grouper: AlertGrouper,
    private readonly logger: Logger,
    private readonly opts: { threshold: number; intervalMs: number; lagMs: number },
    now = Date.now(),
  ) {
    this.from = now - opts.lagMs;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One poll (the timer calls it; tests too). */
  tick(now = Date.now()): Promise<void> {
    return (this.running ??= this.poll(now).finally(() => (this.running = undefined)));
  }

  private async poll(now: number): Promise<void> {
    const to = now - this.opts.lagMs;
    if (to <= this.from) return;
    let lines: ErrorLine[] | null;
    try {
      lines = await this.fetchErrors(new Date(this.from).toISOString(), new Date(to).toISOString());
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'error-burst poll failed');
      return; // same window next time
    }
    if (lines === null) return;
    this.from = to;
    const byService = new Map<string, ErrorLine[]>();
    for (const line of lines) {
      // The query's `to` is inclusive; the next window starts there, so the boundary belongs to the next one.
      if (Date.parse(line.time) >= to) continue;
      const list = byService.get(line.service) ?? [];
      list.push(line);
      byService.set(line.service, list);
    }
    const seconds = Math.round(this.opts.intervalMs / 1000);
    for (const [service, list] of byService) {
      if (list.length < this.opts.threshold) continue;
      const latest = list[0]?.message ?? ''; // newest first
      this.grouper.raise({
        key: `errors:${service}`,
        text: `:warning: *${service}*: ${list.length}${list.length >= 200 ? '+' : ''} errors in ${seconds} s — latest: “${latest.slice(0, 200)}”`,
        requestIds: [...new Set(list.map((l) => l.requestId).filter((id): id is string => Boolean(id)))],
      });
    }
  }
}
