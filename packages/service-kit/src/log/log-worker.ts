import { once } from 'node:events';
import path from 'node:path';
import pino from 'pino';
import type { Registry } from 'prom-client';
import { registerShipperMetrics, type ShipperStats } from './log-shipper';
import type { LogTransportOptions } from './log-transport';
import { LOG_CLOSED_EVENT, LOG_REPORT_EVENT, LOG_STATS_EVENT, type ToLogWorker } from './log-worker-messages';

type Reporter = (level: 'warn' | 'info', fields: object, message: string) => void;

/**
 * The worker's code as compiled JavaScript: a worker thread cannot load our TypeScript, so tests that run
 * the kit from src start the built file (turbo builds the kit before its tests).
 */
const TRANSPORT_FILE = __filename.endsWith('.ts')
  ? path.resolve(__dirname, '../../dist/log/log-transport.js')
  : path.join(__dirname, 'log-transport.js');

/**
 * The service's side of log shipping: a pino transport whose worker thread (log-transport.ts) does all the
 * shipping. write() copies a line into the buffer the worker reads; the worker is told where the logging
 * service is (setTargets) and sends back its totals (metrics) and what it has to say (the reporter).
 */
export class LogWorker {
  private readonly stream: ReturnType<typeof pino.transport>;
  private stats: ShipperStats = { shipped: 0, dropped: 0, buffered: 0 };
  private targets = '';
  private failed = false;
  private report: Reporter | undefined;

  constructor(options: LogTransportOptions) {
    this.stream = pino.transport<LogTransportOptions>({ target: TRANSPORT_FILE, options });
    this.stream.on(LOG_STATS_EVENT, (stats: ShipperStats) => (this.stats = stats));
    this.stream.on(LOG_REPORT_EVENT, (level: 'warn' | 'info', fields: object, message: string) =>
      this.report?.(level, fields, message),
    );
    // A worker that died ships nothing more; stdout still has every line. Said once, never thrown.
    this.stream.on('error', (err: Error) => {
      if (this.failed) return;
      this.failed = true;
      this.report?.(
        'warn',
        { err: err.message },
        'log shipping: the log worker stopped; lines go to stdout only',
      );
    });
  }

  setReporter(report: Reporter): void {
    this.report = report;
  }

  registerMetrics(registry: Registry): void {
    registerShipperMetrics(registry, () => this.stats);
  }

  /** Where the logging service's instances are; sent to the worker only when it changed. */
  setTargets(targets: string[]): void {
    const key = targets.join(' ');
    if (key === this.targets || this.failed) return;
    this.targets = key;
    this.post({ msa: 'log-targets', targets });
  }

  write(line: string): void {
    if (!this.failed) this.stream.write(line);
  }

  /**
   * Every line written so far reaches the worker, which makes its last delivery attempt (bounded by the
   * timeout it was given) and leaves what it could not deliver in its spool; then the worker ends.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.failed) return;
    const bound = AbortSignal.timeout(timeoutMs + 1000);
    try {
      await Promise.race([
        new Promise<void>((resolve) => this.stream.flush(() => resolve())),
        once(bound, 'abort'),
      ]);
      const closed = once(this.stream, LOG_CLOSED_EVENT, { signal: bound });
      this.post({ msa: 'log-close' });
      await closed;
    } catch {
      // timed out: end anyway, the worker's own bound ends its attempt
    }
    // Waits (synchronously, briefly) for the worker to finish: its shipper is closed by now.
    this.stream.end();
  }

  private post(msg: ToLogWorker): void {
    this.stream.emit('message', msg);
  }
}
