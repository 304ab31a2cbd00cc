// The distributor: the service registry every instance registers with and the gateway watches.
import { defineService, z, type ServiceContext } from '@msa/service-kit';
import { prometheusSd } from './prometheus-sd';
import { MemoryStore } from './registry/memory-store';
import { RedisStore } from './registry/redis-store';
import { sweepExpiredLeases } from './registry/store';
import { WatchHub } from './registry/watch-hub';
import { registryRoutes, type Registry } from './routes';

const SWEEP_INTERVAL_MS = 250;

const config = {
  PORT: z.coerce.number().int().min(0).max(65535).default(9000), // the book's distributor port
  REGISTRY_LEASE_MS: z.coerce.number().int().min(100).max(300_000).default(5000),
};
type Context = ServiceContext<typeof config>;

// The kit builds the routes before it calls onStart; both find the one registry of a running service here.
const registries = new WeakMap<Context, Registry>();
function registryOf(ctx: Context): Registry {
  let registry = registries.get(ctx);
  if (!registry) {
    const leaseMs = ctx.config.REGISTRY_LEASE_MS;
    const store = ctx.redis
      ? new RedisStore({ redis: ctx.redis, prefix: `${ctx.config.REDIS_KEY_PREFIX}registry:`, leaseMs })
      : new MemoryStore({ leaseMs });
    registry = { store, hub: new WatchHub(store) };
    registries.set(ctx, registry);
  }
  return registry;
}

export const service = defineService({
  name: 'distributor',
  version: '0.1.0',
  register: false, // it is the registry
  redis: true,
  config,
  routes: (ctx) => registryRoutes(registryOf(ctx)),
  // Prometheus's HTTP service discovery, open like /metrics (prometheus-sd.ts).
  rawHandler: (ctx) => prometheusSd(registryOf(ctx).store),
  onStart: async (ctx) => {
    const { store, hub } = registryOf(ctx);
    // One line per membership change: the first thing an operator looks for.
    store.events.on('change', (event) => {
      if (event.type === 'up') {
        ctx.logger.info({ instanceId: event.instance.instanceId }, `${event.instance.service} up`);
      } else if (event.type === 'down') {
        ctx.logger.info({ instanceId: event.instanceId, reason: event.reason }, `${event.service} down`);
      }
    });
    await store.start();
    hub.start();
    const stopSweeping = sweepExpiredLeases(store, SWEEP_INTERVAL_MS, (err) =>
      ctx.logger.warn({ err: (err as Error).message }, 'lease sweep failed; retrying'),
    );
    const stopWatching = endStreamsWhenShutdownBegins(ctx, hub);
    return async () => {
      stopWatching();
      stopSweeping();
      hub.stop();
      await store.stop();
    };
  },
  // With Redis configured, the registry is in Redis: not ready without it.
  readiness: { 'registry-store': async (ctx) => void (await ctx.redis?.ping()) },
});

// The kit lets in-flight requests finish before it runs the stop hooks, and a watch stream never finishes by
// itself. So end the streams as soon as shutdown begins (ctx.ready turns false), so that watchers move to
// another replica at once and shutdown does not wait for its timeout. (A kit hook for "shutdown begins"
// would replace this poll.)
function endStreamsWhenShutdownBegins(ctx: Context, hub: WatchHub): () => void {
  let wasReady = false;
  const check = () => {
    if (ctx.ready) wasReady = true;
    else if (wasReady) {
      clearInterval(timer);
      hub.stop();
    }
  };
  // The kit turns ready on right after onStart: look once at once, then every 50 ms.
  const first = setImmediate(check);
  const timer = setInterval(check, 50).unref();
  return () => {
    clearImmediate(first);
    clearInterval(timer);
  };
}
