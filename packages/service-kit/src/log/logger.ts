import pino, { type Logger, type DestinationStream } from 'pino';
import { requestContext } from './request-context';

export type { Logger };

/** Where shipped lines go: the log worker in a service (log-worker.ts), or a LogShipper itself in tests. */
export interface LineSink {
  write(line: string): void;
}

export interface LoggerOptions {
  service: string;
  instanceId: string;
  level: string;
  /** Where lines go; stdout (asynchronously buffered) when not given. */
  destination?: DestinationStream;
  /** Also hands every line to the shipper (central logging); the destination still gets it. */
  shipper?: LineSink;
  /** Batch stdout writes (see bufferedStdout); without it every line is its own asynchronous write. */
  buffer?: LogBuffer;
}

/** Lines are written once `bytes` have gathered, and at least every `flushMs` (default 200). */
export interface LogBuffer {
  bytes: number;
  flushMs?: number;
}

/**
 * One JSON line per event, with the fields the central log index is mapped on:
 * time, level (as a word), service, instance, requestId, trace_id, span_id, message.
 */
export function createLogger({
  service,
  instanceId,
  level,
  destination,
  shipper,
  buffer,
}: LoggerOptions): Logger {
  // Asynchronous writes keep logging off the request's critical path; shutdown flushes.
  const out =
    destination ??
    (buffer && buffer.bytes > 0 ? bufferedStdout(1, buffer) : pino.destination({ dest: 1, sync: false }));
  return pino(
    {
      level,
      messageKey: 'message',
      base: { service, instance: instanceId },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin() {
        const store = requestContext.getStore();
        if (store === undefined) return {};
        const trace = store.trace;
        // trace_id/span_id as the OpenTelemetry log data model names them, so a trace finds its lines.
        return trace
          ? { requestId: store.requestId, trace_id: trace.traceId, span_id: trace.spanId }
          : { requestId: store.requestId };
      },
    },
    shipper ? tee(out, shipper) : out,
  );
}

/**
 * An asynchronous destination that gathers lines and writes them `bytes` at a time, and whatever has gathered every
 * `flushMs`. For a service logging a line per request at high rates (the gateway's access log): one write per line
 * is one thread-pool round trip per line, which on a busy core costs as much as the request itself. What is still
 * buffered when the process exits is written synchronously on the way out.
 */
export function bufferedStdout(
  fd: number,
  { bytes, flushMs = 200 }: LogBuffer,
): ReturnType<typeof pino.destination> {
  const dest = pino.destination({ dest: fd, sync: false, minLength: bytes, periodicFlush: flushMs });
  process.once('exit', () => {
    try {
      dest.flushSync();
    } catch {
      // not open yet, or already closed: nothing more can be done at exit
    }
  });
  return dest;
}

/** A destination that writes each line where it always went and also hands it to the shipper. */
function tee(out: DestinationStream, shipper: LineSink): DestinationStream {
  const flushable = out as DestinationStream & { flush?: (cb?: (err?: Error) => void) => void };
  return {
    write(line: string) {
      out.write(line);
      shipper.write(line);
    },
    flush(cb?: (err?: Error) => void) {
      if (flushable.flush) flushable.flush(cb);
      else cb?.();
    },
  } as DestinationStream;
}
