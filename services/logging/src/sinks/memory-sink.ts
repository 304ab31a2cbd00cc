import type { LogDoc } from '../domain/log-line';
import { finish, matcher, type LogQuery } from '../domain/log-query';
import type { IndexResult, LogSink } from './sink';

/** Tests and DATA_DIR=memory: the newest `max` lines, in memory. */
export class MemorySink implements LogSink {
  readonly kind = 'memory';
  private docs: LogDoc[] = [];
  private readonly ids = new Set<string>();

  constructor(private readonly max = 100_000) {}

  async index(docs: LogDoc[]): Promise<IndexResult> {
    for (const doc of docs) {
      if (this.ids.has(doc.id)) continue;
      this.ids.add(doc.id);
      this.docs.push(doc);
    }
    if (this.docs.length > this.max) {
      for (const old of this.docs.splice(0, this.docs.length - this.max)) this.ids.delete(old.id);
    }
    return { done: docs.map((d) => d.id), retry: [], rejected: [] };
  }

  async search(query: LogQuery): Promise<LogDoc[]> {
    return finish(this.docs.filter(matcher(query)), query);
  }

  async close(): Promise<void> {}
}
