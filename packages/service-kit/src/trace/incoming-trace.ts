import { continueTrace, type TraceContext } from './trace-context';

/** Where a request's trace context comes from: the light built-in parser, or the OpenTelemetry SDK's active span. */
export type TraceSource = (
  traceparent: string | string[] | undefined,
  tracestate: string | string[] | undefined,
) => TraceContext;

let source: TraceSource = continueTrace;

/**
 * The trace context of the request being handled. Without the SDK: parsed from its headers, with a new span id
 * for this hop. With the SDK (see otel.ts): the span its HTTP instrumentation opened for the request, so the ids
 * in log lines and outgoing headers are the exported span's.
 */
export function incomingTrace(
  traceparent: string | string[] | undefined,
  tracestate: string | string[] | undefined,
): TraceContext {
  return source(traceparent, tracestate);
}

/** Called once, when the SDK starts. */
export function useTraceSource(next: TraceSource): void {
  source = next;
}
