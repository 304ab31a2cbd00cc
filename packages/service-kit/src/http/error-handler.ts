import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { AppError } from './errors';
import { sendProblem } from './send-problem';

/** Unknown route → 404 as problem details, like every other error. */
export const notFoundHandler: RequestHandler = (req, res) => {
  sendProblem(res, 404, 'NOT_FOUND', `no route for ${req.method} ${req.path}`);
};

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

/**
 * The last middleware: maps any error to a status and problem details (problem.ts). Logs only 5xx
 * (a 4xx is the client's mistake, not ours) and never sends a stack trace.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const parser = err as BodyParserError;
    if (parser.type === 'entity.parse.failed') {
      sendProblem(res, 400, 'MALFORMED_JSON', 'the request body is not valid JSON');
      return;
    }
    if (parser.type === 'entity.too.large') {
      sendProblem(res, 413, 'PAYLOAD_TOO_LARGE', `the request body is larger than ${parser.limit} bytes`);
      return;
    }
    if (parser.type === 'encoding.unsupported' || parser.type === 'charset.unsupported') {
      sendProblem(res, 415, 'UNSUPPORTED_ENCODING', 'the request body encoding is not supported');
      return;
    }
    if (parser.type && parser.status && parser.status < 500) {
      sendProblem(res, parser.status, 'BAD_REQUEST', 'the request could not be read');
      return;
    }
    if (isDatabaseUnavailable(err)) {
      logger.warn({ err: (err as Error).message }, 'database unavailable');
      sendProblem(res, 503, 'DATABASE_UNAVAILABLE', 'the database is unavailable; try again shortly');
      return;
    }
    if (err instanceof AppError) {
      if (err.status >= 500) logger.error({ err }, err.message);
      sendProblem(res, err.status, err.code, err.message, err.details);
      return;
    }
    logger.error({ err }, 'unhandled error');
    sendProblem(res, 500, 'INTERNAL', 'something went wrong on our side');
  };
}

/**
 * A database that cannot be reached is an outage, not a bug: answer 503 quickly so callers may
 * retry, instead of a 500. (pg connection errors, Postgres "admin shutdown"/"cannot connect now",
 * and the pool's connection timeout.)
 */
function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (typeof e?.code === 'string' && (e.code.startsWith('08') || e.code === '57P01' || e.code === '57P03'))
    return true;
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ECONNRESET') return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    e?.message ?? '',
  );
}
