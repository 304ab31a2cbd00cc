// The registry's HTTP API (docs/registry-protocol.md#calls). The kit checks the internal token on every
// route and validates params and bodies with the schemas given here before a handler runs.
import { errors, noContent, z, type RouteDef } from '@msa/service-kit';
import type { InstanceRecord } from './registry/schemas';
import { heartbeatSchema, instanceIdSchema, registrationSchema, SERVICE_NAME } from './registry/schemas';
import type { RegistryStore } from './registry/store';
import type { WatchHub } from './registry/watch-hub';

export interface Registry {
  store: RegistryStore;
  hub: WatchHub;
}

const instanceParams = z.strictObject({ instanceId: instanceIdSchema });
const serviceParams = z.strictObject({ name: z.string().regex(SERVICE_NAME, 'not a service name') });

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- routes of different body types, in one list
type AnyRoute = RouteDef<any, any, any>;

export function registryRoutes({ store, hub }: Registry): AnyRoute[] {
  const route = <B, P>(def: Omit<RouteDef<B, unknown, P>, 'public' | 'auth'>): RouteDef<B, unknown, P> => ({
    public: false, // the registry is for the private network only
    auth: 'none', // callers are services: the internal token is enough
    ...def,
  });

  return [
    route({
      method: 'PUT',
      path: '/registry/instances/:instanceId',
      summary: 'Register an instance, or replace its registration',
      params: instanceParams,
      body: registrationSchema,
      handler: async ({ params, body }) => {
        if (body.instanceId !== params.instanceId) {
          throw new errors.ValidationError('the request is not valid', [
            { field: 'body.instanceId', message: 'must equal the instanceId in the path' },
          ]);
        }
        const { instance, revision } = await fromStore(store.register(body));
        return { instance, leaseMs: store.leaseMs, revision };
      },
    }),
    route({
      method: 'POST',
      path: '/registry/instances/:instanceId/heartbeat',
      summary: 'Renew the lease of an instance, with its process figures',
      params: instanceParams,
      body: heartbeatSchema,
      handler: async ({ params, body }) => {
        const renewed = await fromStore(store.heartbeat(params.instanceId, body.stats));
        if (!renewed) throw notRegistered(params.instanceId);
        return { leaseMs: store.leaseMs, revision: renewed.revision };
      },
    }),
    route({
      method: 'DELETE',
      path: '/registry/instances/:instanceId',
      summary: 'Deregister an instance',
      params: instanceParams,
      handler: async ({ params }) => {
        if (!(await fromStore(store.deregister(params.instanceId)))) throw notRegistered(params.instanceId);
        return noContent();
      },
    }),
    route({
      method: 'GET',
      path: '/registry/services',
      summary: 'Every service with its live instances',
      handler: async () => {
        const { revision, instances } = await fromStore(store.snapshot());
        const services: Record<string, InstanceRecord[]> = {};
        for (const instance of instances) (services[instance.service] ??= []).push(instance);
        return { revision, services };
      },
    }),
    route({
      method: 'GET',
      path: '/registry/services/:name',
      summary: 'The live instances of one service',
      params: serviceParams,
      handler: async ({ params }) => {
        const { revision, instances } = await fromStore(store.snapshot());
        return {
          revision,
          service: params.name,
          instances: instances.filter((i) => i.service === params.name),
        };
      },
    }),
    route({
      method: 'GET',
      path: '/registry/watch',
      summary: 'The registry as Server-Sent Events: a snapshot, then every change',
      handler: async ({ res }) => {
        if (!hub.accepting) {
          throw new errors.ServiceUnavailableError('the distributor is starting or stopping');
        }
        await fromStore(hub.connect(res));
      },
    }),
  ];
}

function notRegistered(instanceId: string) {
  return new errors.NotFoundError(`instance ${instanceId} is not registered`, 'NOT_REGISTERED');
}

// A store fails only when Redis is away: answer a 503, which the kit's clients retry, not a 500.
async function fromStore<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch {
    throw new errors.ServiceUnavailableError(
      'the registry store (Redis) is unreachable',
      'REGISTRY_UNAVAILABLE',
    );
  }
}
