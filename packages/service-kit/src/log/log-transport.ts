// The log worker: a pino transport (https://getpino.io/#/docs/transports) that runs in its own thread and
// ships every line to the logging service. The service's thread only copies each line into the shared
// buffer pino's thread-stream reads from; batching, the internal token, HTTP, retries and the disk spool
// all happen here.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import build from 'pino-abstract-transport';
import { INTERNAL_TOKEN_HEADER, InternalTokens } from '../auth/internal-token';
import { processAlive } from '../lifecycle/process-alive';
import { LogShipper, type ShipperStats } from './log-shipper';
import { LOG_CLOSED_EVENT, LOG_REPORT_EVENT, LOG_STATS_EVENT, isToLogWorker } from './log-worker-messages';

/** What the main thread hands the worker at start (structured-cloned: plain data only). */
export interface LogTransportOptions {
  service: string;
  instanceId: string;
  /** The internal token secret: the worker signs its own tokens, it shares no objects with the service. */
  secret: string;
  maxBuffered: number;
  /** Where undelivered lines overflow to and survive a restart (`DATA_DIR/log-spool`); memory only without. */
  spoolRoot?: string;
  spoolBytes?: number;
  memoryLines?: number;
  batchLines?: number;
  intervalMs?: number;
  /** The last delivery attempt at close is bounded by this. */
  closeTimeoutMs: number;
}

export default async function logTransport(opts: LogTransportOptions) {
  const tokens = new InternalTokens(opts.service, opts.secret);
  let targets: string[] = [];
  const spool = opts.spoolRoot ? claimSpoolDir(opts.spoolRoot, opts.service) : undefined;
  const shipper = new LogShipper({
    instanceId: opts.instanceId,
    service: opts.service,
    targets: () => targets,
    headers: async () => ({ [INTERNAL_TOKEN_HEADER]: await tokens.sign() }),
    maxBuffered: opts.maxBuffered,
    spoolDir: spool?.dir,
    spoolBytes: opts.spoolBytes,
    memoryLines: opts.memoryLines,
    batchLines: opts.batchLines,
    intervalMs: opts.intervalMs,
  });
  const emit = (name: string, args: unknown[]) => parentPort?.postMessage({ code: 'EVENT', name, args });
  shipper.setReporter((level, fields, message) => emit(LOG_REPORT_EVENT, [level, fields, message]));

  // The main thread's metrics read the last totals sent: sent when they change, at most every 100 ms.
  let sent = '';
  const sendStats = () => {
    const s: ShipperStats = shipper.stats();
    const key = `${s.shipped}/${s.dropped}/${s.buffered}`;
    if (key === sent) return;
    sent = key;
    emit(LOG_STATS_EVENT, [s]);
  };
  const statsTimer = setInterval(sendStats, 100);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(statsTimer);
      await shipper.close(opts.closeTimeoutMs);
      spool?.release();
      sendStats();
    })());

  parentPort?.on('message', (msg: unknown) => {
    if (!isToLogWorker(msg)) return; // thread-stream's own messages
    if (msg.msa === 'log-targets') {
      targets = msg.targets;
      void shipper.flush();
    } else if (msg.msa === 'log-close') {
      void close().then(() => emit(LOG_CLOSED_EVENT, []));
    }
  });

  return build(
    (source) => {
      source.on('data', (line: string) => shipper.write(line));
    },
    {
      parse: 'lines',
      // Lines are shipped as the logger wrote them: no parsing, the shipper only appends its fields.
      parseLine: (line) => line,
      metadata: false,
      // The stream ends when the service's logger is closed or the process exits.
      close: () => close(),
    },
  );
}

/**
 * A spool folder of this service that no running process holds: `<root>/<service>/<n>`, held by writing
 * our pid to its `owner` file. A folder whose owner is gone (a crash, a restart, a container whose new
 * process has the same pid) is taken over with the lines it holds, so they are sent after all.
 */
function claimSpoolDir(root: string, service: string): { dir: string; release: () => void } | undefined {
  try {
    for (let n = 0; n < 64; n++) {
      const dir = path.join(root, service, String(n));
      mkdirSync(dir, { recursive: true });
      const owner = path.join(dir, 'owner');
      let fd: number;
      try {
        fd = openSync(owner, 'wx');
      } catch {
        const pid = Number(readFileSync(owner, 'utf8'));
        if (pid !== process.pid && processAlive(pid)) continue;
        rmSync(owner, { force: true });
        try {
          fd = openSync(owner, 'wx');
        } catch {
          continue; // another process took it just now
        }
      }
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return { dir, release: () => rmSync(owner, { force: true }) };
    }
  } catch {
    // a read-only or missing DATA_DIR: ship from memory only
  }
  return undefined;
}
