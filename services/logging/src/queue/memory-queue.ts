import type { LogDoc } from '../domain/log-line';
import { QueueFullError, type LineQueue, type QueuedLine } from './queue';

/**
 * Without Redis: the lines wait in this process (lost if it dies, as anything in memory is). When it
 * is full, add() refuses, so the senders keep their lines (their own buffers are bounded and count drops).
 */
export class MemoryQueue implements LineQueue {
  readonly kind = 'memory';
  private readonly entries = new Map<string, LogDoc>();
  private seq = 0;
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(private readonly max: number) {}

  async add(docs: LogDoc[]): Promise<void> {
    if (this.entries.size + docs.length > this.max) throw new QueueFullError('the log queue is full');
    for (const doc of docs) this.entries.set(String(++this.seq), doc);
    this.wake?.();
  }

  async next(max: number): Promise<QueuedLine[]> {
    if (this.entries.size === 0 && !this.closed) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
    const out: QueuedLine[] = [];
    for (const [key, doc] of this.entries) {
      if (out.length >= max) break;
      out.push({ key, doc });
    }
    return out;
  }

  async ack(keys: string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key);
  }

  async depth(): Promise<number> {
    return this.entries.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
  }
}
