import { EventEmitter } from 'node:events';
import {
  continueTrace,
  InternalClient,
  InternalTokens,
  newSpanId,
  newTraceId,
  parseTraceparent,
  parseTracestate,
  requestContext,
  startService,
  traceparentOf,
  type InstanceRecord,
  type RunningService,
  type TraceContext,
} from '../src';
import { capturedLogger, testEnv, TEST_SECRET } from '../src/testing';
import { echoService } from './fixtures/echo-service';

// The examples of https://www.w3.org/TR/trace-context/ §3.2.
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b9';
const VALID = `00-${TRACE}-${PARENT}-01`;

describe('traceparent, read strictly', () => {
  it('when valid, then its trace id, parent id and flags are read', () => {
    expect(parseTraceparent(VALID)).toEqual({ traceId: TRACE, parentId: PARENT, flags: '01' });
  });

  it('when a later version appends fields after a dash, then the known ones are read', () => {
    expect(parseTraceparent(`cc-${TRACE}-${PARENT}-01-what-the-future-holds`)?.traceId).toBe(TRACE);
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['uppercase hex', VALID.toUpperCase()],
    ['version ff', `ff-${TRACE}-${PARENT}-01`],
    ['version 00 with a suffix', `${VALID}-extra`],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${PARENT}-01`],
    ['an all-zero parent id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['a short trace id', `00-${TRACE.slice(1)}-${PARENT}-01`],
    ['a non-hex character', `00-${TRACE.slice(0, 31)}g-${PARENT}-01`],
    ['spaces around it', ` ${VALID} `],
    ['two headers joined by node', `${VALID}, 00-${TRACE}-${PARENT}-00`],
    ['an array', [VALID, VALID]],
  ])('when %s, then it is refused', (_what, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });
});

describe('tracestate', () => {
  it('when well-formed, then it is passed on unchanged', () => {
    expect(parseTracestate('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE')).toBe(
      'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
    );
    expect(parseTracestate('tenant@vendor=x, ,other=y')).toBe('tenant@vendor=x, ,other=y');
  });

  it.each([
    ['a member without =', 'rojo'],
    ['an uppercase key', 'Rojo=1'],
    ['a value with =', 'rojo=a=b'],
    ['more than 32 members', Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')],
    ['more than 512 characters', `k=${'v'.repeat(520)}`],
  ])('when it has %s, then it is dropped', (_what, header) => {
    expect(parseTracestate(header)).toBeUndefined();
  });
});

describe('a hop of the trace', () => {
  it('when the caller sent a valid traceparent, then the trace continues with a new span whose parent is the caller', () => {
    const ctx = continueTrace(VALID, 'rojo=1');
    expect(ctx).toMatchObject({ traceId: TRACE, parentSpanId: PARENT, flags: '01', state: 'rojo=1' });
    expect(ctx.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(ctx.spanId).not.toBe(PARENT);
    expect(traceparentOf(ctx)).toBe(`00-${TRACE}-${ctx.spanId}-01`);
  });

  it('when the traceparent is malformed, then a new trace starts and its tracestate is dropped', () => {
    const ctx = continueTrace(VALID.toUpperCase(), 'rojo=1');
    expect(ctx.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(ctx.traceId).not.toBe(TRACE.toUpperCase());
    expect(ctx.parentSpanId).toBeUndefined();
    expect(ctx.state).toBeUndefined();
    expect(parseTraceparent(traceparentOf(ctx))).toBeDefined();
  });

  it('when flags carry unknown bits, then only the sampled bit is passed on', () => {
    expect(continueTrace(`00-${TRACE}-${PARENT}-ff`, undefined).flags).toBe('01');
    expect(continueTrace(`00-${TRACE}-${PARENT}-fe`, undefined).flags).toBe('00');
  });

  it('when ids are made many times, then they are well-formed and do not repeat', () => {
    const traces = new Set(Array.from({ length: 2000 }, newTraceId));
    const spans = new Set(Array.from({ length: 2000 }, newSpanId));
    expect(traces.size).toBe(2000);
    expect(spans.size).toBe(2000);
    for (const id of traces) expect(id).toMatch(/^[0-9a-f]{32}$/);
    for (const id of spans) expect(id).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('log lines inside a request', () => {
  it('when a line is written inside a request, then it carries trace_id and span_id beside the request id', () => {
    const { logger, lines } = capturedLogger();
    const trace = continueTrace(VALID, undefined);
    requestContext.run({ requestId: 'r-1', trace }, () => logger.info('inside'));
    logger.info('outside');
    expect(lines[0]).toMatchObject({ requestId: 'r-1', trace_id: TRACE, span_id: trace.spanId });
    expect(lines[1]).not.toHaveProperty('trace_id');
  });
});

class OneInstance extends EventEmitter {
  revision = 1;
  constructor(private readonly record: InstanceRecord) {
    super();
  }
  services() {
    return new Map([['echo', [this.record]]]);
  }
  instances(service: string) {
    return service === 'echo' ? [this.record] : [];
  }
}

describe('the trace across a call between services', () => {
  let echo: RunningService<never>;
  let client: InternalClient;

  beforeAll(async () => {
    echo = (await startService(echoService, {
      env: testEnv(),
      waitReady: true,
    })) as unknown as RunningService<never>;
    client = new InternalClient(
      new OneInstance({
        service: 'echo',
        instanceId: 'e1',
        address: echo.url,
        version: '1',
        routes: [],
        registeredAt: '',
        lastHeartbeatAt: '',
        leaseExpiresAt: '',
      }),
      new InternalTokens('caller', TEST_SECRET),
    );
  });
  afterAll(() => echo.stop());

  type Seen = { traceparent?: string; tracestate?: string; trace: TraceContext };

  it('when a service calls another inside a request, then the callee continues the trace as a child of the caller', async () => {
    const mine = continueTrace(VALID, 'rojo=1');
    const res = await requestContext.run({ requestId: 'r-2', trace: mine }, () =>
      client.request<Seen>('echo', { method: 'GET', path: '/whoami' }),
    );
    expect(res.data.traceparent).toBe(`00-${TRACE}-${mine.spanId}-01`);
    expect(res.data.tracestate).toBe('rojo=1');
    expect(res.data.trace).toMatchObject({ traceId: TRACE, parentSpanId: mine.spanId, state: 'rojo=1' });
    expect(res.data.trace.spanId).not.toBe(mine.spanId);
  });

  it('when a request arrives with no traceparent, then the service starts a trace of its own', async () => {
    const res = await fetch(`${echo.url}/whoami`, {
      headers: { 'x-internal-token': await new InternalTokens('t', TEST_SECRET).sign() },
    });
    const body = (await res.json()) as Seen;
    expect(body.trace.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(body.trace.parentSpanId).toBeUndefined();
  });
});
