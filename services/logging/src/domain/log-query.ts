import { z } from '@msa/service-kit';
import { LEVELS, levelsFrom, TRACE_ID, type LogDoc } from './log-line';

const iso = z.iso.datetime({ offset: true });

export const logQuerySchema = z
  .strictObject({
    service: z
      .string()
      .regex(/^[a-z][a-z0-9-]{1,30}$/, 'a service name')
      .optional(),
    /** The least severe level wanted: `error` gives error and fatal. */
    level: z.enum(LEVELS).optional(),
    requestId: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'a request id')
      .optional(),
    /** Every line written in one W3C trace, across services (the kit's logger writes it as trace_id). */
    traceId: z.string().regex(TRACE_ID, 'a trace id: 32 lowercase hex digits').optional(),
    /** Words that must all appear in the message. */
    q: z.string().min(1).max(200).optional(),
    from: iso.optional(),
    to: iso.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    /** Default: oldest first for one request or trace id (its path, in order), newest first otherwise. */
    order: z.enum(['asc', 'desc']).optional(),
  })
  .refine((q) => !q.from || !q.to || Date.parse(q.from) <= Date.parse(q.to), {
    message: 'from must not be after to',
    path: ['from'],
  });

export type LogQuery = z.infer<typeof logQuerySchema>;

export const orderOf = (q: LogQuery): 'asc' | 'desc' =>
  q.order ?? (q.requestId || q.traceId ? 'asc' : 'desc');

export function queryWords(q: string): string[] {
  return q.toLowerCase().split(/\s+/).filter(Boolean);
}

/** The query as a predicate, for the sinks that search by scanning (file, memory). */
export function matcher(q: LogQuery): (doc: LogDoc) => boolean {
  const levels = q.level ? new Set(levelsFrom(q.level)) : null;
  const from = q.from ? Date.parse(q.from) : -Infinity;
  const to = q.to ? Date.parse(q.to) : Infinity;
  const words = q.q ? queryWords(q.q) : [];
  return (doc) => {
    if (q.service && doc.service !== q.service) return false;
    if (q.requestId && doc.requestId !== q.requestId) return false;
    if (q.traceId && doc.trace_id !== q.traceId) return false;
    if (levels && !levels.has(doc.level)) return false;
    const t = Date.parse(doc.time);
    if (t < from || t > to) return false;
    if (words.length) {
      const m = (doc.message ?? '').toLowerCase();
      if (!words.every((w) => m.includes(w))) return false;
    }
    return true;
  };
}

/** Sorted by time in the query's order, at most `limit`, each id once. */
export function finish(docs: LogDoc[], q: LogQuery): LogDoc[] {
  const seen = new Set<string>();
  const unique = docs.filter((d) => (seen.has(d.id) ? false : (seen.add(d.id), true)));
  const dir = orderOf(q) === 'asc' ? 1 : -1;
  unique.sort((a, b) => dir * (Date.parse(a.time) - Date.parse(b.time)));
  return unique.slice(0, q.limit);
}
