import { Counter, Gauge, type Registry } from 'prom-client';
import { requestContext } from './request-context';

export interface LogShipperOptions {
  /** This instance's id: every shipped line gets `logId` = `<instanceId>:<sequence>`, stable across retries. */
  instanceId: string;
  /** This service's name. Shipped lines say who wrote them in `logService`/`logInstance`, which a
   * line's own `service`/`instance` fields (e.g. the gateway naming an upstream) cannot overwrite. */
  service?: string;
  /** Base URLs of the logging service's instances, asked before each send (from the registry). */
  targets: () => Promise<string[]> | string[];
  /** Headers for each send (the internal token). */
  headers: () => Promise<Record<string, string>>;
  /** Most lines held while the logging service cannot be reached; beyond it the oldest are dropped. */
  maxBuffered?: number;
  /** A batch is sent when this many lines wait, or every intervalMs. */
  batchLines?: number;
  /** Largest batch body; the logging service accepts 1 MB. */
  batchBytes?: number;
  intervalMs?: number;
  timeoutMs?: number;
}

/** Longer lines are not shipped (counted as dropped): one runaway log call must not block every batch. */
const MAX_LINE_BYTES = 32 * 1024;

/**
 * Ships this process's log lines to the logging service in batches, off the request path: write()
 * only appends to an array; a timer (or a full batch) sends them. While the logging service is
 * down or not yet registered the lines wait in a bounded buffer; when it is full the oldest are
 * dropped and counted, and the count is reported in a log line and the `log_shipper_dropped_lines_total`
 * metric once shipping works again. Every line carries a stable `logId`, so a batch sent twice
 * (its answer was lost) is indexed once.
 */
export class LogShipper {
  readonly maxBuffered: number;
  private readonly batchLines: number;
  private readonly batchBytes: number;
  private readonly timeoutMs: number;
  // A queue as an array and a head index: dropping or sending from the front moves the index, never
  // the array (splice(0, n) on a full buffer would copy it on every line).
  private buffer: string[] = [];
  private head = 0;
  /** Absolute number of the line at `head`, so a send knows what it sent even if drops moved the head. */
  private first = 0;
  private seq = 0;
  private sending: Promise<void> | undefined;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private cursor = 0;
  private failing = false;
  private closed = false;
  /** Dropped since the last report. */
  private unreported = 0;
  /** Totals, for tests and the metrics. */
  shipped = 0;
  dropped = 0;
  private metrics: { shipped: Counter; dropped: Counter } | undefined;
  private readonly origin: string;
  private report: ((level: 'warn' | 'info', fields: object, message: string) => void) | undefined;

  constructor(private readonly opts: LogShipperOptions) {
    this.maxBuffered = opts.maxBuffered ?? 10_000;
    this.batchLines = opts.batchLines ?? 500;
    this.batchBytes = opts.batchBytes ?? 512 * 1024;
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.origin =
      (opts.service ? `,"logService":${JSON.stringify(opts.service)}` : '') +
      `,"logInstance":${JSON.stringify(opts.instanceId)}`;
    // Created here, outside any request, so no flush runs inside a request's context.
    this.timer = setInterval(() => void this.flush(), opts.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** Where the shipper says what happened to it (drops, outages): the service's own logger. */
  setReporter(report: (level: 'warn' | 'info', fields: object, message: string) => void): void {
    this.report = report;
  }

  registerMetrics(registry: Registry): void {
    this.metrics = {
      shipped: new Counter({
        name: 'log_shipper_shipped_lines_total',
        help: 'Log lines delivered to the logging service',
        registers: [registry],
      }),
      dropped: new Counter({
        name: 'log_shipper_dropped_lines_total',
        help: 'Log lines dropped before delivery: buffer full while the logging service was unreachable, too long, or refused',
        registers: [registry],
      }),
    };
    const buffered = () => this.buffered;
    new Gauge({
      name: 'log_shipper_buffered_lines',
      help: 'Log lines waiting to be shipped',
      registers: [registry],
      collect() {
        this.set(buffered());
      },
    });
  }

  /** One pino line (a JSON object and a newline). Never throws, never waits. */
  write(line: string): void {
    if (this.closed) return;
    const end = line.endsWith('\n') ? line.length - 1 : line.length;
    if (end < 3 || line.charCodeAt(0) !== 123 /* { */ || line.charCodeAt(end - 1) !== 125 /* } */) return;
    if (end > MAX_LINE_BYTES) {
      this.drop(1);
      return;
    }
    // These go last, so they win over any field of the same name the line carried.
    const id = `${this.opts.instanceId}:${++this.seq}`;
    this.buffer.push(`${line.slice(0, end - 1)},"logId":${JSON.stringify(id)}${this.origin}}`);
    if (this.buffered > this.maxBuffered) {
      this.removeFront(1);
      this.drop(1);
    }
    if (this.buffered >= this.batchLines && !this.scheduled) {
      this.scheduled = true;
      // Outside the request's async context: the send is nobody's request.
      requestContext.exit(() =>
        setImmediate(() => {
          this.scheduled = false;
          void this.flush();
        }),
      );
    }
  }

  get buffered(): number {
    return this.buffer.length - this.head;
  }

  private removeFront(n: number): void {
    this.head += n;
    this.first += n;
    if (this.head >= 1024 && this.head * 2 >= this.buffer.length) {
      this.buffer = this.buffer.slice(this.head);
      this.head = 0;
    }
  }

  /** Sends what waits, batch after batch, until the buffer is empty or a send fails. */
  flush(): Promise<void> {
    if (this.sending) return this.sending;
    if (this.buffered === 0) return Promise.resolve();
    this.sending = requestContext.exit(() => this.sendAll()).finally(() => (this.sending = undefined));
    return this.sending;
  }

  /** Stops the timer and makes a last attempt to deliver, within timeoutMs. */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)),
    );
    try {
      while (this.buffered > 0) {
        const before = this.shipped;
        if ((await Promise.race([this.flush(), timedOut])) === 'timeout') break;
        if (this.shipped === before) break; // could not deliver: give up now rather than spin
      }
    } finally {
      clearTimeout(timer);
    }
    this.closed = true;
  }

  private drop(n: number): void {
    this.dropped += n;
    this.unreported += n;
    this.metrics?.dropped.inc(n);
  }

  private async sendAll(): Promise<void> {
    while (this.buffered > 0) {
      const targets = await this.safeTargets();
      if (targets.length === 0) return; // nobody to send to yet: keep the lines
      const count = this.batchSize();
      const start = this.first;
      const batch = this.buffer.slice(this.head, this.head + count);
      const outcome = await this.send(targets, batch);
      if (outcome === 'retry') return;
      // Delivered or refused: either way these lines leave the buffer (unless overflow dropped them meanwhile).
      const sentUpTo = start + count;
      if (sentUpTo > this.first) this.removeFront(sentUpTo - this.first);
      if (outcome === 'refused') {
        this.drop(batch.length);
        this.report?.('warn', { lines: batch.length }, 'log shipping: the logging service refused a batch');
      } else {
        this.shipped += batch.length;
        this.metrics?.shipped.inc(batch.length);
        if (this.failing) {
          this.failing = false;
          this.report?.('info', {}, 'log shipping: the logging service is reachable again');
        }
      }
      if (this.unreported > 0) {
        const dropped = this.unreported;
        this.unreported = 0;
        this.report?.(
          'warn',
          { dropped, droppedTotal: this.dropped, maxBuffered: this.maxBuffered },
          `log shipping: ${dropped} log lines were dropped before they could be delivered`,
        );
      }
    }
  }

  private batchSize(): number {
    let bytes = 32;
    let n = 0;
    for (; n < this.buffered && n < this.batchLines; n++) {
      bytes += this.buffer[this.head + n]!.length + 1;
      if (bytes > this.batchBytes && n > 0) break;
    }
    return n;
  }

  private async safeTargets(): Promise<string[]> {
    try {
      return await this.opts.targets();
    } catch {
      return [];
    }
  }

  /** One batch to one instance, the next instance on a connection failure. */
  private async send(targets: string[], batch: string[]): Promise<'ok' | 'retry' | 'refused'> {
    const body = `{"lines":[${batch.join(',')}]}`;
    const headers = { ...(await this.opts.headers()), 'content-type': 'application/json' };
    for (let attempt = 0; attempt < Math.min(2, targets.length); attempt++) {
      const base = targets[this.cursor++ % targets.length]!;
      try {
        const res = await fetch(`${base}/internal/logs`, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status >= 200 && res.status < 300) return 'ok';
        // A batch the service calls malformed or too large will never be accepted: do not block on it.
        if (res.status === 400 || res.status === 413) return 'refused';
        this.markFailing(`answered ${res.status}`);
        return 'retry';
      } catch (err) {
        this.markFailing((err as Error).message);
      }
    }
    return 'retry';
  }

  private markFailing(reason: string): void {
    if (this.failing) return;
    this.failing = true;
    this.report?.(
      'warn',
      { reason, buffered: this.buffered, maxBuffered: this.maxBuffered },
      'log shipping: the logging service is unreachable; holding lines',
    );
  }
}
