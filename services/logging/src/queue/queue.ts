import type { LogDoc } from '../domain/log-line';

export interface QueuedLine {
  /** The queue's own key for the entry (a Redis stream id, or a counter). */
  key: string;
  doc: LogDoc;
}

/**
 * Lines received but not yet indexed. A line stays until acknowledged, so a sink that fails (or a
 * process that dies) between receipt and indexing loses nothing: the line is handed out again.
 */
export interface LineQueue {
  readonly kind: 'redis' | 'memory';
  /** Resolves once the lines are kept; throws (→ 503) when they cannot be. */
  add(docs: LogDoc[]): Promise<void>;
  /** Lines handed out before and not acknowledged first, then new ones; waits up to ~1 s for some. */
  next(max: number): Promise<QueuedLine[]>;
  ack(keys: string[]): Promise<void>;
  depth(): Promise<number>;
  close(): Promise<void>;
}

/** The queue is full: the sender keeps its lines and tries later. */
export class QueueFullError extends Error {}
