import pino, { type Logger, type DestinationStream } from 'pino';
import { currentRequestId } from './request-context';

export type { Logger };

export interface LoggerOptions {
  service: string;
  instanceId: string;
  level: string;
  /** Where lines go; stdout (asynchronously buffered) when not given. */
  destination?: DestinationStream;
}

/**
 * One JSON line per event, with the fields the central log index is mapped on:
 * time, level (as a word), service, instance, requestId, message.
 */
export function createLogger({ service, instanceId, level, destination }: LoggerOptions): Logger {
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
    // Asynchronous writes keep logging off the request's critical path; shutdown flushes.
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
