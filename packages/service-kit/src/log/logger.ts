import pino, { type Logger, type DestinationStream } from 'pino';
import type { LogShipper } from './log-shipper';
import { currentRequestId } from './request-context';

export type { Logger };

export interface LoggerOptions {
  service: string;
  instanceId: string;
  level: string;
  /** Where lines go; stdout (asynchronously buffered) when not given. */
  destination?: DestinationStream;
  /** Also hands every line to the shipper (central logging); the destination still gets it. */
  shipper?: LogShipper;
}

/**
 * One JSON line per event, with the fields the central log index is mapped on:
 * time, level (as a word), service, instance, requestId, message.
 */
export function createLogger({ service, instanceId, level, destination, shipper }: LoggerOptions): Logger {
  // Asynchronous writes keep logging off the request's critical path; shutdown flushes.
  const out = destination ?? pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level,
      messageKey: 'message',
      base: { service, instance: instanceId },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin() {
        const requestId = currentRequestId();
        return requestId ? { requestId } : {};
      },
    },
    shipper ? tee(out, shipper) : out,
  );
}

/** A destination that writes each line where it always went and also hands it to the shipper. */
function tee(out: DestinationStream, shipper: LogShipper): DestinationStream {
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
