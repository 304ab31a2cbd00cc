// Loaded only when OTEL_EXPORTER_OTLP_ENDPOINT is set (see bootstrap.ts): nothing here is required otherwise.
import { trace, TraceFlags } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations, type Instrumentation } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { IncomingMessage, RequestOptions } from 'node:http';
import { useTraceSource } from './incoming-trace';
import { continueTrace, type TraceContext } from './trace-context';

/** The instrumentations that can be chosen with OTEL_NODE_ENABLED_INSTRUMENTATIONS (default: all three). */
export const INSTRUMENTATIONS = ['http', 'pg', 'ioredis'] as const;
type Name = (typeof INSTRUMENTATIONS)[number];

// Operational traffic (health checks, metrics scrapes, the registry's heartbeats and watch) is not a request
// anyone wants a trace of.
const QUIET_PATH = /^\/(health|metrics)(\/|$|\?)/;

function create(name: Name): Instrumentation {
  switch (name) {
    case 'http':
      return new HttpInstrumentation({
        ignoreIncomingRequestHook: (req: IncomingMessage) => QUIET_PATH.test(req.url ?? ''),
        // Calls made outside any request (heartbeats, log shipping, background jobs) would each be a trace.
        requireParentforOutgoingSpans: true,
        // The gateway's forward passes its headers as a flat array, which this instrumentation cannot inject
        // into (it copies them as an object); the gateway writes the traceparent itself (see its forward.ts).
        ignoreOutgoingRequestHook: (opts: RequestOptions) => Array.isArray(opts.headers),
      });
    case 'pg':
      // No connect spans: the pool's reuse makes them noise; a query outside a request (migrations, the
      // reconciler's sweeps) is no trace either.
      return new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true });
    case 'ioredis':
      return new IORedisInstrumentation({ requireParentSpan: true });
  }
}

/** Which instrumentations to load: OTEL_NODE_ENABLED_INSTRUMENTATIONS=http,pg narrows them (as in the SDK's auto setup). */
export function enabledInstrumentations(env: NodeJS.ProcessEnv): Name[] {
  const listed = env.OTEL_NODE_ENABLED_INSTRUMENTATIONS;
  if (listed === undefined || listed.trim() === '') return [...INSTRUMENTATIONS];
  const wanted = new Set(listed.split(',').map((s) => s.trim()));
  return INSTRUMENTATIONS.filter((n) => wanted.has(n));
}

/**
 * Patches http, pg and ioredis. Must run before those modules are first required: the kit's index imports this
 * first of all. Spans are no-ops until start() registers a provider.
 */
export function instrument(env: NodeJS.ProcessEnv): void {
  registerInstrumentations({ instrumentations: enabledInstrumentations(env).map(create) });
}

/**
 * Starts exporting spans (OTLP over HTTP, JSON, to OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces) under this service's
 * name, and makes the kit's trace context the SDK's. Returns the flush-and-stop for shutdown.
 */
export function start(service: string, instanceId: string, version: string): () => Promise<void> {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      'service.name': service,
      'service.instance.id': instanceId,
      'service.version': version,
    }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // Registers the AsyncLocalStorage context manager and the W3C traceparent/tracestate propagator.
  provider.register();
  useTraceSource(fromActiveSpan);
  return () => provider.shutdown();
}

/** A request's context is the span the HTTP instrumentation opened for it; without one, the light path's. */
function fromActiveSpan(
  traceparent: string | string[] | undefined,
  tracestate: string | string[] | undefined,
): TraceContext {
  const span = trace.getActiveSpan();
  if (span === undefined) return continueTrace(traceparent, tracestate);
  const sc = span.spanContext();
  const ctx: TraceContext = {
    traceId: sc.traceId,
    spanId: sc.spanId,
    flags: (sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? '01' : '00',
  };
  const state = sc.traceState?.serialize();
  if (state) ctx.state = state;
  return ctx;
}
