import type * as Otel from './otel';

/**
 * The OpenTelemetry SDK, loaded only when OTEL_EXPORTER_OTLP_ENDPOINT is set (the standard variable; with
 * OTEL_SDK_DISABLED=true it stays off too). Unset, none of its modules is ever required: the trace context then
 * comes from the light built-in path (trace-context.ts), which costs a few microseconds per request.
 *
 * This module is the first the kit's index requires, so the instrumentations are in place before anything
 * requires `pg`, `ioredis` or `http` — they patch modules as they are loaded. A synchronous require on purpose:
 * an `await import()` would let the rest of the kit load first.
 */
function load(env: NodeJS.ProcessEnv): typeof Otel | null {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_SDK_DISABLED === 'true') return null;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const otel = require('./otel') as typeof Otel;
  otel.instrument(env);
  return otel;
}

export const otel = load(process.env);
