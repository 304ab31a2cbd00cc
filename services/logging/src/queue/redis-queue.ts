import type { Redis } from '@msa/service-kit';
import type { LogDoc } from '../domain/log-line';
import { QueueFullError, type LineQueue, type QueuedLine } from './queue';

type Entries = Array<[id: string, fields: string[] | null]>;

export interface RedisQueueOptions {
  /** Commands that answer at once (add, ack). */
  redis: Redis;
  /** A connection of its own for the blocking read. */
  reader: Redis;
  key: string;
  group: string;
  /** This instance: the consumer name in the group. */
  consumer: string;
  max: number;
  /** Lines a dead instance held for longer than this are taken over. */
  claimIdleMs: number;
}

/**
 * A Redis stream read through a consumer group. A line is acknowledged (and deleted) only once the
 * sink has it, so a crash between receipt and indexing loses nothing: this instance reads its own
 * unacknowledged lines again first, and another instance takes over a dead one's after claimIdleMs.
 * Several logging instances share the work; each line goes to one of them.
 */
export class RedisQueue implements LineQueue {
  readonly kind = 'redis';
  private groupReady = false;
  /** Read our own pending entries before new ones (at start, after a failure, after a claim). */
  private pendingFirst = true;
  private lastClaim = 0;

  constructor(private readonly o: RedisQueueOptions) {}

  private async ensureGroup(): Promise<void> {
    if (this.groupReady) return;
    try {
      await this.o.redis.xgroup('CREATE', this.o.key, this.o.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
    this.groupReady = true;
  }

  async add(docs: LogDoc[]): Promise<void> {
    await this.ensureGroup();
    // Refuse rather than trim: trimming could drop lines nobody has indexed yet.
    if ((await this.o.redis.xlen(this.o.key)) + docs.length > this.o.max) {
      throw new QueueFullError('the log queue is full');
    }
    const pipeline = this.o.redis.pipeline();
    for (const doc of docs) pipeline.xadd(this.o.key, '*', 'doc', JSON.stringify(doc));
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
  }

  async next(max: number): Promise<QueuedLine[]> {
    try {
      return await this.nextInGroup(max);
    } catch (err) {
      // The stream was deleted under us (FLUSHALL, a Redis without persistence restarted): make the group again.
      if (/NOGROUP/.test((err as Error).message)) this.groupReady = false;
      throw err;
    }
  }

  private async nextInGroup(max: number): Promise<QueuedLine[]> {
    await this.ensureGroup();
    if (Date.now() - this.lastClaim > this.o.claimIdleMs / 2) {
      this.lastClaim = Date.now();
      await this.claimStale(max);
    }
    if (this.pendingFirst) {
      const mine = await this.read(max, '0', false);
      if (mine.length) return mine;
      this.pendingFirst = false;
    }
    return this.read(max, '>', true);
  }

  /** A failure means some lines stay pending: read them again before new ones. */
  retryPending(): void {
    this.pendingFirst = true;
  }

  async ack(keys: string[]): Promise<void> {
    if (!keys.length) return;
    await this.o.redis
      .multi()
      .xack(this.o.key, this.o.group, ...keys)
      .xdel(this.o.key, ...keys)
      .exec();
  }

  async depth(): Promise<number> {
    return this.o.redis.xlen(this.o.key);
  }

  async close(): Promise<void> {
    this.o.reader.disconnect();
  }

  private async claimStale(max: number): Promise<void> {
    const res = (await this.o.redis.xautoclaim(
      this.o.key,
      this.o.group,
      this.o.consumer,
      this.o.claimIdleMs,
      '0-0',
      'COUNT',
      max,
    )) as [string, Entries, string[]?];
    if (res[1]?.length) this.pendingFirst = true;
  }

  private async read(max: number, from: '0' | '>', block: boolean): Promise<QueuedLine[]> {
    const args: (string | number)[] = ['GROUP', this.o.group, this.o.consumer, 'COUNT', max];
    if (block) args.push('BLOCK', 1000);
    args.push('STREAMS', this.o.key, from);
    const res = (await (
      this.o.reader as unknown as { xreadgroup(...a: (string | number)[]): Promise<unknown> }
    ).xreadgroup(...args)) as Array<[string, Entries]> | null;
    const entries = res?.[0]?.[1] ?? [];
    const out: QueuedLine[] = [];
    const gone: string[] = [];
    for (const [id, fields] of entries) {
      const raw = fields?.[1];
      if (!raw) {
        gone.push(id); // deleted while pending: nothing to index
        continue;
      }
      out.push({ key: id, doc: JSON.parse(raw) as LogDoc });
    }
    if (gone.length) await this.ack(gone);
    return out;
  }
}
