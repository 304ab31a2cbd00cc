import { createHash } from 'node:crypto';
import { z } from '@msa/service-kit';

/** What the index keeps of one line: the mapped fields, and everything else under `fields`. */
export interface LogDoc {
  /** Stable per line (the shipper's logId): the document id, so a replay never indexes it twice. */
  id: string;
  time: string;
  service: string;
  instance?: string;
  level: Level;
  requestId?: string;
  /** The W3C trace the line was written in (the kit's logger adds it beside the request id). */
  trace_id?: string;
  message?: string;
  fields?: Record<string, unknown>;
}

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type Level = (typeof LEVELS)[number];
const PINO_NUMBERS: Record<number, Level> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/** `level=warn` asks for warn and above. */
export const levelsFrom = (min: Level): Level[] => LEVELS.slice(LEVELS.indexOf(min));

const text = (max: number) => z.string().min(1).max(max);
/** A W3C trace id: 32 lowercase hex digits. */
export const TRACE_ID = /^[0-9a-f]{32}$/;
// Between 2000 and 2100: a line's time names its daily index, so it must be a sane date.
const MIN_TIME = Date.UTC(2000, 0, 1);
const MAX_TIME = Date.UTC(2100, 0, 1);
const saneTime = (ms: number) => ms >= MIN_TIME && ms < MAX_TIME;
const time = z.union([
  z
    .string()
    .max(40)
    .refine((v) => saneTime(Date.parse(v)), 'must be an ISO date-time between 2000 and 2100'),
  z.number().refine(saneTime, 'must be epoch milliseconds between 2000 and 2100'),
]);

/** One line as pino writes it (the kit's logger: time, level as a word, service, instance, requestId, message). */
export const lineSchema = z.looseObject({
  logId: text(200).optional(),
  time,
  level: z.union([z.enum(LEVELS), z.literal([10, 20, 30, 40, 50, 60])]),
  service: text(64),
  instance: text(200).optional(),
  requestId: text(128).optional(),
  message: z.string().max(32_768).optional(),
  /** Who wrote the line, added by the kit's shipper; wins over a line's own service/instance fields. */
  logService: text(64).optional(),
  logInstance: text(200).optional(),
});
export type IncomingLine = z.infer<typeof lineSchema>;

/** A batch as the kit's log shipper sends it. */
export const batchSchema = z.strictObject({ lines: z.array(lineSchema).min(1).max(5000) });

const MAPPED = new Set([
  'logId',
  'logService',
  'logInstance',
  'time',
  'level',
  'service',
  'instance',
  'requestId',
  'message',
  'msg',
]);

export function toDoc(line: IncomingLine): LogDoc {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(line)) if (!MAPPED.has(k)) fields[k] = v;
  // A well-formed trace id is indexed (a trace finds its lines); anything else under that name stays a plain
  // field, so a line from elsewhere is never refused for it.
  const traceId =
    typeof line.trace_id === 'string' && TRACE_ID.test(line.trace_id) ? line.trace_id : undefined;
  if (traceId !== undefined) delete fields.trace_id;
  // A line that names another service (the gateway's access line names its upstream) keeps that as a field.
  const service = line.logService ?? line.service;
  const instance = line.logInstance ?? line.instance;
  if (line.service !== service) fields.service = line.service;
  if (line.instance !== undefined && line.instance !== instance) fields.instance = line.instance;
  const level = typeof line.level === 'number' ? PINO_NUMBERS[line.level]! : line.level;
  const message = line.message ?? (typeof line.msg === 'string' ? line.msg : undefined);
  const doc: LogDoc = {
    // A line without an id (not from the kit) gets one from its content: a resend is still the same line.
    id: line.logId ?? createHash('sha256').update(JSON.stringify(line)).digest('base64url').slice(0, 32),
    time: new Date(line.time).toISOString(),
    service,
    level,
  };
  if (instance !== undefined) doc.instance = instance;
  if (line.requestId !== undefined) doc.requestId = line.requestId;
  if (traceId !== undefined) doc.trace_id = traceId;
  if (message !== undefined) doc.message = message;
  if (Object.keys(fields).length) doc.fields = fields;
  return doc;
}
