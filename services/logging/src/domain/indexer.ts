import { backoff, sleep, type Logger } from '@msa/service-kit';
import type { LineQueue } from '../queue/queue';
import type { LogSink } from '../sinks/sink';

export interface IndexerStats {
  indexed: number;
  rejected: number;
  retried: number;
  sinkUp: boolean;
  lastError?: string;
}

/**
 * Moves lines from the queue into the sink, batch by batch. What the sink stored (or already had)
 * is acknowledged; what it could not store now stays in the queue and is sent again, alone; a
 * sink that is down is retried with backoff while the lines wait. Nothing is acknowledged before
 * it is stored, so nothing is lost, and the sink's create-by-id makes nothing count twice.
 */
export class Indexer {
  readonly stats: IndexerStats = { indexed: 0, rejected: 0, retried: 0, sinkUp: true };
  private stopped = false;
  private loop: Promise<void> | undefined;
  private failures = 0;
  private abortWait: AbortController | undefined;

  constructor(
    private readonly queue: LineQueue & { retryPending?: () => void },
    private readonly sink: LogSink,
    private readonly logger: Logger,
    private readonly onIndexed: (n: number, rejected: number) => void = () => undefined,
    private readonly batchSize = 500,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abortWait?.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.step();
      } catch (err) {
        // The queue itself failed (Redis away): wait and read again; the lines are still there.
        this.noteFailure(`queue: ${(err as Error).message}`);
        await this.pause();
      }
    }
  }

  private async step(): Promise<void> {
    const batch = await this.queue.next(this.batchSize);
    if (batch.length === 0 || this.stopped) return;
    let result;
    try {
      result = await this.sink.index(batch.map((b) => b.doc));
    } catch (err) {
      this.noteFailure(`${this.sink.kind}: ${(err as Error).message}`);
      this.queue.retryPending?.();
      await this.pause();
      return;
    }
    const keyOf = new Map(batch.map((b) => [b.doc.id, b.key]));
    const finished = [...result.done, ...result.rejected.map((r) => r.id)];
    await this.queue.ack(finished.map((id) => keyOf.get(id)!).filter(Boolean));
    for (const r of result.rejected.slice(0, 3)) {
      this.logger.warn({ logId: r.id, reason: r.reason }, 'a log line cannot be indexed; dropped');
    }
    this.stats.indexed += result.done.length;
    this.stats.rejected += result.rejected.length;
    this.onIndexed(result.done.length, result.rejected.length);
    if (!this.stats.sinkUp) {
      this.stats.sinkUp = true;
      this.logger.info({ sink: this.sink.kind }, 'indexing again: the waiting lines go in now');
    }
    if (result.retry.length) {
      // Only these go again, after a short wait (the sink said it was busy).
      this.stats.retried += result.retry.length;
      this.queue.retryPending?.();
      this.failures++;
      await this.pause();
    } else this.failures = 0;
  }

  private noteFailure(message: string): void {
    this.failures++;
    this.stats.lastError = message;
    if (this.stats.sinkUp) {
      this.stats.sinkUp = false;
      this.logger.warn({ err: message }, 'indexing paused: lines wait in the queue until it works again');
    }
  }

  private async pause(): Promise<void> {
    this.abortWait = new AbortController();
    const signal = this.abortWait.signal;
    await Promise.race([
      sleep(backoff(Math.min(this.failures, 8), 200, 10_000)),
      new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
    ]);
  }
}
