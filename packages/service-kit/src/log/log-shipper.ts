import { Counter, Gauge, type Registry } from 'prom-client';
import { requestContext } from './request-context';
import { LogSpool } from './log-spool';

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
  /**
   * A folder of this instance's own: beyond `memoryLines` waiting lines, the older ones move to files there
   * (within `spoolBytes`), and what is still undelivered at close is left there for the next start to send.
   */
  spoolDir?: string;
  /** Most bytes of lines kept in `spoolDir`; beyond it the oldest files are dropped (counted). */
  spoolBytes?: number;
  /** Lines kept in memory before older ones move to disk (when there is a spoolDir). */
  memoryLines?: number;
}

/** What the shipper has done so far (totals) and holds now. */
export interface ShipperStats {
  shipped: number;
  dropped: number;
  buffered: number;
}

/** Longer lines are not shipped (counted as dropped): one runaway log call must not block every batch. */
const MAX_LINE_BYTES = 32 * 1024;

/**
 * Ships log lines to the logging service in batches. In a service it runs in the log worker thread
 * (log-transport.ts), so none of it is on the request path: write() only appends to an array; a timer
 * (or a full batch) sends them. While the logging service is down or not yet registered the lines wait
 * in a bounded buffer — memory first, then files in `spoolDir`, oldest first, so order is kept; when it
 * is full the oldest are dropped and counted, and the count is reported in a log line and the
 * `log_shipper_dropped_lines_total` metric once shipping works again. Every line carries a stable
 * `logId`, so a batch sent twice (its answer was lost) is indexed once.
 */
export class LogShipper {
  readonly maxBuffered: number;
  private readonly batchLines: number;
  private readonly batchBytes: number;
  private readonly timeoutMs: number;
  private readonly memoryLines: number;
  /** Lines older than everything in `buffer`, on disk (empty without a spoolDir). */
  private readonly spool: LogSpool | undefined;
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
  private readonly origin: string;
  private report: ((level: 'warn' | 'info', fields: object, message: string) => void) | undefined;

  constructor(private readonly opts: LogShipperOptions) {
    this.maxBuffered = opts.maxBuffered ?? 10_000;
    this.batchLines = opts.batchLines ?? 500;
    this.batchBytes = opts.batchBytes ?? 512 * 1024;
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.memoryLines = opts.memoryLines ?? 1000;
    this.spool = opts.spoolDir ? new LogSpool(opts.spoolDir, opts.spoolBytes ?? 64 * 1024 * 1024) : undefined;
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
    registerShipperMetrics(registry, () => this.stats());
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
      if (this.spool && this.spool.lines > 0) this.spool.dropOldest(1);
      else this.removeFront(1);
      this.drop(1);
    }
    if (this.inMemory >= this.batchLines && !this.scheduled) {
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
    return this.inMemory + (this.spool?.lines ?? 0);
  }

  private get inMemory(): number {
    return this.buffer.length - this.head;
  }

  stats(): ShipperStats {
    return { shipped: this.shipped, dropped: this.dropped, buffered: this.buffered };
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
    this.spill(this.memoryLines);
    if (this.buffered === 0) return Promise.resolve();
    this.sending = requestContext.exit(() => this.sendAll()).finally(() => (this.sending = undefined));
    return this.sending;
  }

  /**
   * Moves the older in-memory lines to the spool, keeping `keep`. Only between sends: a batch on its way
   * was taken from memory and is removed from there when it is answered.
   */
  private spill(keep: number): void {
    if (!this.spool || this.inMemory <= keep) return;
    const n = this.inMemory - keep;
    const moved = this.spool.append(this.buffer.slice(this.head, this.head + n));
    if (moved.written === 0 && moved.error) {
      this.report?.(
        'warn',
        { reason: moved.error },
        'log shipping: cannot write the spool; holding lines in memory',
      );
      return;
    }
    this.removeFront(n);
    if (moved.dropped > 0) this.drop(moved.dropped);
  }

  /**
   * Stops the timer and makes a last attempt to deliver, within timeoutMs. What is still undelivered is
   * left in the spool (when there is one) for the next start of this service to send.
   */
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
    // Everything undelivered goes to the spool, a batch still on its way too (should it arrive after all,
    // its logIds keep it from being indexed twice); the next start sends what is there.
    if (this.spool) {
      this.spill(0);
      try {
        this.spool.compact();
      } catch {
        // the delivered front may be sent again: logId keeps it from being indexed twice
      }
    }
  }

  private drop(n: number): void {
    this.dropped += n;
    this.unreported += n;
  }

  private async sendAll(): Promise<void> {
    while (this.buffered > 0) {
      const targets = await this.safeTargets();
      if (targets.length === 0) return; // nobody to send to yet: keep the lines
      let batch: string[];
      let done: () => void;
      if (this.spool && this.spool.lines > 0) {
        // The spool holds the oldest lines: they go first.
        const taken = this.spool.peek(this.batchLines, this.batchBytes);
        batch = taken.lines;
        done = taken.done;
      } else {
        const count = this.batchSize();
        const start = this.first;
        batch = this.buffer.slice(this.head, this.head + count);
        done = () => {
          const sentUpTo = start + count;
          if (sentUpTo > this.first) this.removeFront(sentUpTo - this.first);
        };
      }
      const outcome = await this.send(targets, batch);
      // Closed meanwhile: what is left is in the spool now, as it was at close.
      if (outcome === 'retry' || this.closed) return;
      // Delivered or refused: either way these lines leave the buffer (unless overflow dropped them meanwhile).
      done();
      if (outcome === 'refused') {
        this.drop(batch.length);
        this.report?.('warn', { lines: batch.length }, 'log shipping: the logging service refused a batch');
      } else {
        this.shipped += batch.length;
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
    for (; n < this.inMemory && n < this.batchLines; n++) {
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

/**
 * The shipper's metrics, read from `stats` when scraped: in a service the shipper lives in the log worker
 * and the main thread's registry sees the totals it last reported.
 */
export function registerShipperMetrics(registry: Registry, stats: () => ShipperStats): void {
  const counted = { shipped: 0, dropped: 0 };
  const total = (key: 'shipped' | 'dropped') =>
    function (this: Counter) {
      const now = stats()[key];
      if (now > counted[key]) this.inc(now - counted[key]);
      counted[key] = Math.max(counted[key], now);
    };
  new Counter({
    name: 'log_shipper_shipped_lines_total',
    help: 'Log lines delivered to the logging service',
    registers: [registry],
    collect: total('shipped'),
  });
  new Counter({
    name: 'log_shipper_dropped_lines_total',
    help: 'Log lines dropped before delivery: buffer full while the logging service was unreachable, too long, or refused',
    registers: [registry],
    collect: total('dropped'),
  });
  new Gauge({
    name: 'log_shipper_buffered_lines',
    help: 'Log lines waiting to be shipped (in memory and on disk)',
    registers: [registry],
    collect() {
      this.set(stats().buffered);
    },
  });
}
