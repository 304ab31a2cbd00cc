import express, { type Request, type Response } from 'express';
import type { z } from 'zod';
import type { Caller } from '../log/request-context';
import { requestContext } from '../log/request-context';
import type { RouteDef } from '../service/definition';
import { ForbiddenError, UnauthorizedError, ValidationError, type FieldProblem } from './errors';
import { Reply } from './reply';

export function fieldProblems(error: z.ZodError, prefix: string): FieldProblem[] {
  return error.issues.map((issue) => {
    const where = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      return { field: where || prefix, message: `unknown field(s): ${issue.keys.join(', ')}` };
    }
    return { field: where || prefix, message: issue.message };
  });
}

function parse<T>(
  schema: z.ZodType<T> | undefined,
  value: unknown,
  part: string,
  problems: FieldProblem[],
): T {
  if (!schema) return value as T;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  problems.push(...fieldProblems(result.error, part));
  return undefined as T;
}

/** Builds an Express router from route definitions: auth check, validation, handler, reply. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function buildRouter(routes: RouteDef<any, any, any>[]): express.Router {
  const router = express.Router();
  for (const route of routes) {
    const method = route.method.toLowerCase() as 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete';
    router[method](route.path, async (req: Request, res: Response) => {
      const caller: Caller = requestContext.getStore()?.caller ?? { service: 'unknown' };
      // Before anything can fail, so an error answer to such a route is not stored either.
      if (route.noStore ?? route.auth !== 'none') res.set('cache-control', 'no-store');
      if (route.auth !== 'none' && !caller.user) throw new UnauthorizedError('sign in first');
      if (route.auth === 'admin' && caller.user?.role !== 'admin') throw new ForbiddenError('admins only');

      const problems: FieldProblem[] = [];
      const params = parse(route.params, req.params, 'params', problems);
      const query = parse(route.query, req.query, 'query', problems);
      const body = route.rawBody
        ? Buffer.isBuffer(req.body)
          ? req.body
          : Buffer.alloc(0)
        : parse(route.body, req.body ?? {}, 'body', problems);
      if (problems.length) throw new ValidationError('the request is not valid', problems);

      const result = await route.handler({ body, query, params, caller, req, res });
      if (res.headersSent || res.writableEnded) return;
      if (result instanceof Reply) {
        if (result.headers) res.set(result.headers);
        if (result.body === undefined) res.status(result.status).end();
        else res.status(result.status).json(result.body);
        return;
      }
      if (result === undefined) res.status(204).end();
      else res.status(200).json(result);
    });
  }
  return router;
}

/**
 * Readers for the routes that want their body's bytes (`rawBody`): mounted before the JSON parser,
 * they read the body as a Buffer, so the JSON parser finds it already read and leaves it alone.
 */
export function buildRawBodyRouter(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  routes: RouteDef<any, any, any>[],
  limit: string,
): express.Router | undefined {
  const raw = routes.filter((r) => r.rawBody);
  if (raw.length === 0) return undefined;
  const router = express.Router();
  const reader = express.raw({ type: () => true, limit });
  for (const route of raw) {
    const method = route.method.toLowerCase() as 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete';
    router[method](route.path, reader);
  }
  return router;
}
