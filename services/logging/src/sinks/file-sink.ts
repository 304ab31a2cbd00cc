import { createReadStream } from 'node:fs';
import { appendFile, mkdir, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { LogDoc } from '../domain/log-line';
import { finish, matcher, orderOf, type LogQuery } from '../domain/log-query';
import type { IndexResult, LogSink } from './sink';

const FILE = /^logs-(\d{4}-\d{2}-\d{2})\.ndjson$/;
const DAY_MS = 86_400_000;

/**
 * The embedded default (no ELASTICSEARCH_URL): one append-only NDJSON file per day of the lines'
 * time, under DATA_DIR/logging. A search reads the days its time range covers, newest first for
 * "newest first" queries, and stops once it has enough. Files older than the retention go.
 */
export class FileSink implements LogSink {
  readonly kind = 'file';
  // Ids written lately: a replay (the queue resent a batch) is not appended twice.
  private readonly recent = new Set<string>();
  private ready: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    private readonly retentionDays = 7,
  ) {}

  private prepare(): Promise<void> {
    return (this.ready ??= (async () => {
      await mkdir(this.dir, { recursive: true });
      await this.prune();
    })());
  }

  async index(docs: LogDoc[]): Promise<IndexResult> {
    await this.prepare();
    const byDay = new Map<string, string[]>();
    const fresh = docs.filter((d) => !this.recent.has(d.id));
    for (const doc of fresh) {
      const day = doc.time.slice(0, 10);
      const lines = byDay.get(day) ?? [];
      lines.push(JSON.stringify(doc));
      byDay.set(day, lines);
    }
    // One append per day file: a write either lands whole or throws (and the batch is retried).
    for (const [day, lines] of byDay) {
      await appendFile(path.join(this.dir, `logs-${day}.ndjson`), lines.join('\n') + '\n');
    }
    for (const doc of fresh) this.remember(doc.id);
    return { done: docs.map((d) => d.id), retry: [], rejected: [] };
  }

  async search(query: LogQuery): Promise<LogDoc[]> {
    await this.prepare();
    const from = query.from ? query.from.slice(0, 10) : '0000-00-00';
    const to = query.to ? query.to.slice(0, 10) : '9999-99-99';
    const days = (await readdir(this.dir))
      .map((name) => FILE.exec(name)?.[1])
      .filter((day): day is string => day !== undefined && day >= from && day <= to)
      .sort();
    if (orderOf(query) === 'desc') days.reverse();
    const match = matcher(query);
    const found: LogDoc[] = [];
    for (const day of days) {
      // Whole days, in the wanted order: once a day brings the count to `limit`, later days cannot come first.
      await this.scan(path.join(this.dir, `logs-${day}.ndjson`), match, found);
      if (found.length >= query.limit) break;
    }
    return finish(found, query);
  }

  async close(): Promise<void> {}

  private async scan(file: string, match: (d: LogDoc) => boolean, into: LogDoc[]): Promise<void> {
    const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    for await (const line of lines) {
      if (!line) continue;
      try {
        const doc = JSON.parse(line) as LogDoc;
        if (match(doc)) into.push(doc);
      } catch {
        // a torn last line after a crash: skip it
      }
    }
  }

  private remember(id: string): void {
    this.recent.add(id);
    if (this.recent.size > 200_000) {
      // Forget the oldest half (a Set iterates in insertion order).
      let n = 100_000;
      for (const old of this.recent) {
        if (n-- <= 0) break;
        this.recent.delete(old);
      }
    }
  }

  private async prune(): Promise<void> {
    const oldest = new Date(Date.now() - this.retentionDays * DAY_MS).toISOString().slice(0, 10);
    for (const name of await readdir(this.dir)) {
      const day = FILE.exec(name)?.[1];
      if (day && day < oldest) await unlink(path.join(this.dir, name)).catch(() => undefined);
    }
  }
}
