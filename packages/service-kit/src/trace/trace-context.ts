import { randomFillSync } from 'node:crypto';

/**
 * One hop of a W3C trace (https://www.w3.org/TR/trace-context/): the trace it belongs to, this hop's own span id,
 * the caller's span id (absent when this hop started the trace), the trace flags and the vendors' tracestate.
 */
export interface TraceContext {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  /** Two hex digits; 01 = sampled. */
  flags: string;
  /** The caller's tracestate, passed on unchanged when it was well-formed. */
  state?: string;
}

// version-traceid-parentid-flags, lowercase hex only. A later version may append fields after a dash.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

// tracestate: up to 32 comma-separated key=value members (empty members allowed); a key is lowercase, with an
// optional tenant@system form; a value is printable ASCII except ',' and '=', not ending in a space.
const STATE_MEMBER =
  /^(?:[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
const MAX_STATE_MEMBERS = 32;
const MAX_STATE_LENGTH = 512;

/**
 * The caller's traceparent when it is valid, read strictly: a malformed one (wrong length, uppercase, version ff,
 * an all-zero id, or two headers joined into one) is ignored, so the hop starts a new trace instead of
 * continuing garbage.
 */
export function parseTraceparent(
  header: string | string[] | undefined,
): { traceId: string; parentId: string; flags: string } | undefined {
  if (typeof header !== 'string' || header.length < 55) return undefined;
  const m = TRACEPARENT.exec(header);
  if (m === null) return undefined;
  const [, version, traceId, parentId, flags, rest] = m;
  if (version === 'ff') return undefined;
  if (version === '00' && rest !== undefined) return undefined;
  if (traceId === ZERO_TRACE || parentId === ZERO_SPAN) return undefined;
  return { traceId: traceId!, parentId: parentId!, flags: flags! };
}

/** The tracestate to pass on, or undefined when it is absent or malformed (it is then dropped, the trace kept). */
export function parseTracestate(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (value === undefined || value.length > MAX_STATE_LENGTH) return undefined;
  let members = 0;
  for (const raw of value.split(',')) {
    const member = raw.trim();
    if (member === '') continue;
    if (++members > MAX_STATE_MEMBERS || !STATE_MEMBER.test(member)) return undefined;
  }
  return members === 0 ? undefined : value;
}

/** This hop's context: continues the caller's trace when its traceparent is valid, else starts a new one. */
export function continueTrace(
  traceparent: string | string[] | undefined,
  tracestate: string | string[] | undefined,
): TraceContext {
  const parent = parseTraceparent(traceparent);
  if (parent === undefined) return { traceId: newTraceId(), spanId: newSpanId(), flags: '01' };
  const ctx: TraceContext = {
    traceId: parent.traceId,
    spanId: newSpanId(),
    parentSpanId: parent.parentId,
    // Only the sampled bit is defined for version 00; unknown bits are not passed on.
    flags: (parseInt(parent.flags, 16) & 1) === 1 ? '01' : '00',
  };
  const state = parseTracestate(tracestate);
  if (state !== undefined) ctx.state = state;
  return ctx;
}

/** The traceparent a call made from this hop carries: same trace, this hop's span as the parent. */
export function traceparentOf(ctx: TraceContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.flags}`;
}

// Ids come from a pool of random bytes refilled 4 KB at a time: one call into the CSPRNG per ~300 hops instead
// of one per id (the gateway makes one per request).
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let used = POOL_BYTES;

function randomHex(bytes: number): string {
  if (used + bytes > POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  const hex = pool.toString('hex', used, used + bytes);
  used += bytes;
  return hex;
}

export function newTraceId(): string {
  let id = randomHex(16);
  while (id === ZERO_TRACE) id = randomHex(16);
  return id;
}

export function newSpanId(): string {
  let id = randomHex(8);
  while (id === ZERO_SPAN) id = randomHex(8);
  return id;
}
