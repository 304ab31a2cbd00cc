// What the service's thread and its log worker (log-transport.ts) say to each other. Kept apart from both,
// so neither loads the other's code to know the names.

/** Main thread → worker, through the ThreadStream's `message` event. */
export type ToLogWorker = { msa: 'log-targets'; targets: string[] } | { msa: 'log-close' };

/** Worker → main thread: thread-stream re-emits `{ code: 'EVENT', name, args }` on the stream. */
export const LOG_STATS_EVENT = 'msaLogStats';
export const LOG_REPORT_EVENT = 'msaLogReport';
export const LOG_CLOSED_EVENT = 'msaLogClosed';

export function isToLogWorker(msg: unknown): msg is ToLogWorker {
  return typeof msg === 'object' && msg !== null && 'msa' in msg;
}
