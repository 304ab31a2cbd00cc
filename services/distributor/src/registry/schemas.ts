// What the registry accepts over HTTP (docs/registry-protocol.md). The types are the kit's, which its clients
// send and read: each schema is checked against its type, so the two cannot drift apart.
import { z, type InstanceRegistration, type InstanceStats, type RouteSpec } from '@msa/service-kit';

export type { InstanceRecord, InstanceRegistration, InstanceStats, RouteSpec } from '@msa/service-kit';

export const SERVICE_NAME = /^[a-z][a-z0-9-]{1,30}$/;
// `${service}-${hostname}-${pid}-${random}`: hostnames bring dots and upper case.
export const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const MAX_ROUTES = 200;

export const instanceIdSchema = z.string().regex(INSTANCE_ID, 'letters, digits, . _ - (at most 128)');

export const routeSpecSchema: z.ZodType<RouteSpec> = z
  .strictObject({
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']),
    path: z.string().max(512).startsWith('/', "must start with '/'"),
    public: z.boolean(),
    auth: z.enum(['none', 'user', 'admin']),
    timeoutMs: z.number().int().min(1).max(300_000).optional(),
  })
  // Internal paths are the private network's; exposing one through the gateway would bypass that boundary.
  .refine((route) => !(route.public && route.path.startsWith('/internal')), {
    message: 'a public route must not start with /internal',
    path: ['path'],
  });

const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(2048)
  // zod runs this check even when the URL check failed: parse with care.
  .refine((address) => !URL.parse(address)?.username, 'must not carry credentials');

export const registrationSchema: z.ZodType<InstanceRegistration> = z.strictObject({
  service: z.string().regex(SERVICE_NAME, 'lower-case letters, digits and -, starting with a letter (2-31)'),
  instanceId: instanceIdSchema,
  address: httpUrl,
  // Optional, so instances of an older kit still register; their metrics are at `${address}/metrics`.
  metricsUrl: httpUrl.optional(),
  version: z.string().min(1).max(64),
  routes: z
    .array(routeSpecSchema)
    .max(MAX_ROUTES)
    .refine((routes) => new Set(routes.map((r) => `${r.method} ${r.path}`)).size === routes.length, {
      message: 'each method and path at most once',
    }),
});

const count = z.number().finite().min(0);
export const statsSchema: z.ZodType<InstanceStats> = z.strictObject({
  cpuPercent: count,
  rssBytes: count,
  heapUsedBytes: count,
  eventLoopLagMs: count,
  inFlight: count,
  uptimeSeconds: count,
});

export const heartbeatSchema = z.strictObject({ stats: statsSchema.optional() });
