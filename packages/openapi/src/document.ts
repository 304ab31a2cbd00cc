// The public API as the gateway exposes it: every route a shop service marks public, with the zod
// schemas that service validates its input with, as one OpenAPI 3 document.
import { OpenAPIRegistry, OpenApiGeneratorV3, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { PROBLEM_CONTENT_TYPE, z } from '@msa/service-kit';
import { service as member } from '@msa/member/dist/service';
import { service as product } from '@msa/product/dist/service';
import { service as purchase } from '@msa/purchase/dist/service';
import { errorSchema, routeDocs, type Answer } from './responses';
import { routesOf, type AnyRoute, type ServiceRoutes } from './routes';

/** The services behind the gateway's public routes, in the document's order. */
export const shopServices = () => [routesOf(member), routesOf(product), routesOf(purchase)];

/** Express `/products/:id` → OpenAPI `/products/{id}`. */
export const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

export const routeKey = (method: string, path: string) => `${method.toUpperCase()} ${openApiPath(path)}`;

/** postPurchasesByIdCancel: stable, unique, and usable as a method name by client generators. */
function operationId(route: AnyRoute): string {
  const words = route.path
    .split('/')
    .filter(Boolean)
    .map((segment) => (segment.startsWith(':') ? `by-${segment.slice(1)}` : segment));
  return [route.method.toLowerCase(), ...words]
    .join('-')
    .replace(/-([a-z0-9])/gi, (_m, c: string) => c.toUpperCase());
}

const errorAnswer = (description: string) => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: errorSchema } },
});

function answer(a: Answer) {
  return {
    description: a.description,
    ...(a.schema ? { content: { 'application/json': { schema: a.schema } } } : {}),
  };
}

function objectOrFail(schema: z.ZodType | undefined, what: string, route: AnyRoute) {
  if (schema === undefined) return undefined;
  if (schema instanceof z.ZodObject) return schema;
  throw new Error(
    `${routeKey(route.method, route.path)}: its ${what} schema must be a z.object to be documented`,
  );
}

function describe(service: string, route: AnyRoute): RouteConfig {
  const key = routeKey(route.method, route.path);
  const doc = routeDocs[key];
  const params = objectOrFail(route.params, 'params', route);
  const query = objectOrFail(route.query, 'query', route);
  const headers = doc?.headers
    ? z.object(Object.fromEntries(Object.entries(doc.headers).map(([name, h]) => [name, headerSchema(h)])))
    : undefined;

  const responses: RouteConfig['responses'] = {};
  // A route that declares its `response` documents itself; src/responses.ts speaks for the others.
  const success =
    doc?.success ??
    (route.response
      ? { 200: { description: route.summary ?? 'Success', schema: route.response } }
      : { 200: { description: 'Success (the body is not documented yet)' } });
  for (const [status, a] of Object.entries(success)) responses[status] = answer(a);
  const input = Boolean(route.body || route.query || route.params || doc?.headers);
  if (input) responses[400] = errorAnswer('VALIDATION_FAILED: `errors` lists each bad field');
  if (route.auth !== 'none') {
    responses[401] = errorAnswer('UNAUTHORIZED: no token, or an invalid or expired one');
  }
  if (route.auth === 'admin') responses[403] = errorAnswer('FORBIDDEN: this route needs the admin role');
  for (const [status, description] of Object.entries(doc?.errors ?? {})) {
    responses[status] = errorAnswer(description);
  }
  responses.default = errorAnswer(
    'Any other error, same shape: 413 PAYLOAD_TOO_LARGE, 429 RATE_LIMITED (with retry-after), ' +
      `502/503/504 when the gateway cannot get an answer from the ${service} service`,
  );

  return {
    method: route.method.toLowerCase() as RouteConfig['method'],
    path: openApiPath(route.path),
    operationId: operationId(route),
    tags: [service],
    ...(route.summary ? { summary: route.summary } : {}),
    ...(route.auth === 'admin' ? { description: 'Admins only (a member token with role admin).' } : {}),
    ...(route.auth !== 'none' ? { security: [{ bearerAuth: [] }] } : {}),
    request: {
      ...(params ? { params } : {}),
      ...(query ? { query } : {}),
      ...(headers ? { headers } : {}),
      ...(route.body
        ? {
            body: {
              // A body that may be empty (e.g. cancel's {}) is optional: the service reads none as {}.
              required: !route.body.safeParse({}).success,
              content: { 'application/json': { schema: route.body } },
            },
          }
        : {}),
    },
    responses,
  };
}

function headerSchema(h: { description: string; required: boolean; schema: z.ZodType }) {
  const schema = h.schema.meta({ description: h.description });
  return h.required ? schema : schema.optional();
}

export function buildDocument(services: ServiceRoutes[] = shopServices()) {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'The `token` from POST /members/login (ES256, 1 h), checked by the gateway',
  });
  for (const { service, routes } of services) {
    for (const route of routes) if (route.public) registry.registerPath(describe(service, route));
  }
  const document = new OpenApiGeneratorV3(registry.definitions, {
    sortComponents: 'alphabetically',
  }).generateDocument({
    openapi: '3.0.3',
    info: {
      title: 'msa-workshop public API',
      version: '0.1.0',
      description:
        'What the gateway exposes: the public routes of the member, product and purchase services. ' +
        'Generated from the zod schemas the services validate with (packages/openapi); do not edit by hand, ' +
        'run `npm run openapi`. Every error is RFC 9457 problem details (application/problem+json: type, title, ' +
        "status, detail, instance = the request id, and the project's `code`; see docs/errors.md), and every " +
        'answer carries an x-request-id header. Served with a "try it" console at /docs on the gateway.',
    },
    servers: [
      { url: '/', description: 'The gateway serving this document (its /docs page)' },
      { url: 'https://localhost:8443', description: '`npm start`, HTTPS' },
      { url: 'http://127.0.0.1:8080', description: '`npm start`, plain HTTP' },
    ],
    tags: services.map(({ service }) => ({ name: service })),
  });
  tidy(document);
  return document;
}

type Json = { [key: string]: unknown };

/**
 * Three corrections to what the generator emits, so the document says what the services accept:
 * a regex's flags (`/u`) end up inside `pattern`; a query or path parameter is never null (a query
 * string has no null; `z.coerce` makes it look nullable); and a parameter typed string (the services
 * check the raw query text, then convert) has its default as the text it stands for.
 */
function tidy(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(tidy);
  if (!node || typeof node !== 'object') return;
  const obj = node as Json;
  if (typeof obj.pattern === 'string') obj.pattern = obj.pattern.replace(/\/[dgimsuyv]+$/, '');
  const isParameter = obj.in === 'query' || obj.in === 'path' || obj.in === 'header';
  if (isParameter && obj.schema && typeof obj.schema === 'object') {
    const schema = obj.schema as Json;
    delete schema.nullable;
    if (schema.type === 'string' && typeof schema.default === 'number')
      schema.default = String(schema.default);
  }
  for (const value of Object.values(obj)) tidy(value);
}
