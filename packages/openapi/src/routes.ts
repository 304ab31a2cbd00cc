// The route definitions of a service, read without starting it: its `routes(ctx)` is called with a
// context of real parts that do no I/O until used (an in-memory cache, a silent logger, an empty
// registry) and placeholders for the rest (the database, metrics): building the routes only keeps
// references to those, and a route definition that uses one at build time fails here, naming it.
import {
  createLogger,
  EmptyRegistry,
  InternalClient,
  InternalTokens,
  loadConfig,
  MemoryCache,
  type RouteDef,
  type ServiceContext,
  type ServiceDefinition,
} from '@msa/service-kit';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute = RouteDef<any, any, any>;

export interface ServiceRoutes {
  service: string;
  version: string;
  routes: AnyRoute[];
}

function placeholder(service: string, part: string): never {
  return new Proxy(
    {},
    {
      get(_target, property) {
        // Promise resolution probes `then`; answering undefined keeps a placeholder from looking like one.
        if (property === 'then') return undefined;
        throw new Error(
          `${service}: routes() used ctx.${part}.${String(property)} while they were only being listed ` +
            'for the OpenAPI document; keep route building free of I/O',
        );
      },
    },
  ) as never;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function routesOf(def: ServiceDefinition<any>): ServiceRoutes {
  // The development defaults, as `npm start` runs it: nothing here is used beyond route building.
  const config = loadConfig(def.config, {
    NODE_ENV: 'development',
    INTERNAL_TOKEN_SECRET: 'openapi-document-generation-only-0123456789',
  });
  const instanceId = `${def.name}-openapi`;
  const registry = new EmptyRegistry();
  const tokens = new InternalTokens(def.name, config.INTERNAL_TOKEN_SECRET);
  const ctx = {
    name: def.name,
    instanceId,
    version: def.version ?? '0.0.0',
    config,
    ready: false,
    redis: null,
    cache: new MemoryCache(),
    logger: createLogger({
      service: def.name,
      instanceId,
      level: 'silent',
      destination: { write: () => undefined },
    }),
    registry,
    tokens,
    http: new InternalClient(registry, tokens),
    db: placeholder(def.name, 'db'),
    metrics: placeholder(def.name, 'metrics'),
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
  } as unknown as ServiceContext<any>;
  return { service: def.name, version: def.version ?? '0.0.0', routes: def.routes?.(ctx) ?? [] };
}
