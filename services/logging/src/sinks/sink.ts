import type { LogDoc } from '../domain/log-line';
import type { LogQuery } from '../domain/log-query';

/** What one indexing attempt did with each line, by id. */
export interface IndexResult {
  /** Stored now, or already stored before (a replay): done with either way. */
  done: string[];
  /** Not stored this time (the store was busy or failing for them): send again later. */
  retry: string[];
  /** Can never be stored as they are (a mapping error): given up, with the reason. */
  rejected: Array<{ id: string; reason: string }>;
}

/** Where lines end up and are searched: Elasticsearch, an NDJSON file, or memory. */
export interface LogSink {
  readonly kind: 'elasticsearch' | 'file' | 'memory';
  /** Throws when the store cannot be reached at all: every line waits. */
  index(docs: LogDoc[]): Promise<IndexResult>;
  search(query: LogQuery): Promise<LogDoc[]>;
  close(): Promise<void>;
}
