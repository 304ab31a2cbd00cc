import { AsyncLocalStorage } from 'node:async_hooks';
import type { TraceContext } from '../trace/trace-context';

export interface Caller {
  /** The service that made the call (the gateway, for a user's request). */
  service: string;
  /** The signed-in member on whose behalf the call is made, when there is one. */
  user?: { id: string; role: 'customer' | 'admin' };
}

export interface RequestContext {
  requestId: string;
  caller?: Caller;
  /** This hop of the request's W3C trace: log lines carry its ids, internal calls its traceparent. */
  trace?: TraceContext;
}

/**
 * The current request, available anywhere below a request handler without passing it around:
 * the logger stamps every line with its id and trace ids, and the internal client forwards them.
 */
export const requestContext = new AsyncLocalStorage<RequestContext>();

export const currentRequestId = (): string | undefined => requestContext.getStore()?.requestId;

export const currentTrace = (): TraceContext | undefined => requestContext.getStore()?.trace;
