// Issue 19: one purchase through the real gateway, every service a real process with the OpenTelemetry SDK on
// (OTEL_EXPORTER_OTLP_ENDPOINT pointing at a small OTLP/HTTP receiver started here), gives one trace: spans of
// gateway, purchase and product and the SQL they ran, each parented on the hop that caused it. Its trace id then
// finds the same request's log lines through the logging service's search.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { call } from './support/http';
import { newMember } from './support/members';
import { startTestSystem, type TestSystem } from './support/system';

interface Span {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
}

// OTLP/JSON as the exporter sends it (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).
interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpExport {
  resourceSpans: Array<{
    resource: { attributes: OtlpAttribute[] };
    scopeSpans: Array<{
      spans: Array<{
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        attributes?: OtlpAttribute[];
      }>;
    }>;
  }>;
}

const attrs = (list: OtlpAttribute[] = []) =>
  Object.fromEntries(list.map((a) => [a.key, a.value.stringValue ?? a.value.intValue ?? a.value.boolValue]));

/** A receiver of OTLP/HTTP JSON exports (POST /v1/traces), keeping every span it is sent. */
async function otlpReceiver(): Promise<{ url: string; spans: Span[]; close: () => Promise<void> }> {
  const spans: Span[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (
        req.method !== 'POST' ||
        req.url !== '/v1/traces' ||
        !/json/.test(req.headers['content-type'] ?? '')
      ) {
        res.writeHead(400).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport;
      for (const rs of body.resourceSpans) {
        const service = String(attrs(rs.resource.attributes)['service.name']);
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            spans.push({
              service,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? '',
              name: s.name,
              kind: s.kind,
              attributes: attrs(s.attributes),
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function eventually<T>(read: () => Promise<T> | T, ok: (v: T) => boolean, what: string): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < 150; i++) {
    last = await read();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within 15 s (last: ${JSON.stringify(last)})`);
}

let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
let ts: TestSystem;

beforeAll(async () => {
  receiver = await otlpReceiver();
  ts = await startTestSystem({
    only: ['gateway', 'member', 'product', 'purchase', 'logging'],
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      // Export every 200 ms instead of every 5 s, so the test waits less.
      OTEL_BSP_SCHEDULE_DELAY: '200',
      // info: the gateway's access line and each service's request line for the traced request.
      LOG_LEVEL: 'info',
    },
  });
}, 120_000);

afterAll(async () => {
  await ts?.stop();
  await receiver?.close();
}, 60_000);

test('when a member buys through the gateway, then one trace holds correctly parented spans of gateway, purchase, product and their SQL, and its id finds the request’s log lines', async () => {
  const gateway = ts.gatewayUrl;
  const ann = await newMember(gateway, 'Ann');
  const list = await call(gateway, 'GET', '/products?limit=20');
  const product = (list.body.items as Array<{ id: string; stock: number }>).find((p) => p.stock >= 1)!;

  // The client joins a trace of its own: the gateway continues it.
  const traceId = randomBytes(16).toString('hex');
  const clientSpan = randomBytes(8).toString('hex');
  const requestId = `trace-test-${randomBytes(4).toString('hex')}`;
  const buy = await call(gateway, 'POST', '/purchases', {
    token: ann.token,
    headers: {
      'idempotency-key': `k-${requestId}`,
      'x-request-id': requestId,
      traceparent: `00-${traceId}-${clientSpan}-01`,
    },
    body: { productId: product.id, quantity: 1 },
  });
  expect(buy.status).toBe(201);

  // Spans of one trace arrive in batches from three processes, a parent often after its children (it ends
  // last): wait until the three services' spans are in and every span's parent has arrived, but for the root.
  const ofTrace = () => receiver.spans.filter((s) => s.traceId === traceId);
  const orphans = (list: Span[]) => {
    const ids = new Set(list.map((s) => s.spanId));
    return list.filter((s) => !ids.has(s.parentSpanId));
  };
  const isSql = (s: Span) =>
    s.attributes['db.system'] === 'postgresql' || s.attributes['db.system.name'] === 'postgresql';
  const spans = await eventually(
    ofTrace,
    (list) =>
      ['gateway', 'purchase', 'product'].every((svc) => list.some((s) => s.service === svc)) &&
      list.some((s) => s.service === 'purchase' && isSql(s)) &&
      list.some((s) => s.service === 'product' && isSql(s)) &&
      orphans(list).length === 1,
    'spans of gateway, purchase, product and their SQL',
  );
  expect(spans.length).toBeGreaterThanOrEqual(6);
  // Nothing of this request went into another trace.
  expect(new Set(spans.map((s) => s.spanId)).size).toBe(spans.length);

  // Parenting: the gateway's span is the child of the client's; every other span's parent is a span of this trace;
  // following parents from each SQL span of product climbs product → purchase → gateway.
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const roots = orphans(spans);
  expect(roots[0]).toMatchObject({ service: 'gateway', parentSpanId: clientSpan, kind: 2 /* SERVER */ });
  const servicesUp = (s: Span): string[] => {
    const path: string[] = [];
    for (let at: Span | undefined = s; at; at = byId.get(at.parentSpanId)) {
      if (path.at(-1) !== at.service) path.push(at.service);
    }
    return path;
  };
  for (const sql of spans.filter((s) => s.service === 'product' && isSql(s))) {
    expect(servicesUp(sql)).toEqual(['product', 'purchase', 'gateway']);
  }
  for (const sql of spans.filter((s) => s.service === 'purchase' && isSql(s))) {
    expect(servicesUp(sql)).toEqual(['purchase', 'gateway']);
  }
  // purchase's call to product is a client span whose child is product's server span.
  const productServer = spans.find((s) => s.service === 'product' && s.kind === 2)!;
  expect(byId.get(productServer.parentSpanId)).toMatchObject({ service: 'purchase', kind: 3 /* CLIENT */ });

  // The same trace id finds the request's log lines, each stamped with a span of the trace.
  const logging = ts.system.instance('logging').url!;
  const token = await ts.internalToken();
  const lines = await eventually(
    async () => {
      const found = await call(logging, 'GET', `/internal/logs?traceId=${traceId}&limit=100`, {
        internalToken: token,
      });
      expect(found.status).toBe(200);
      return found.body.items as Array<{
        service: string;
        requestId?: string;
        trace_id: string;
        fields?: { span_id?: string };
      }>;
    },
    (items) => ['gateway', 'purchase', 'product'].every((svc) => items.some((l) => l.service === svc)),
    'log lines of gateway, purchase and product under the trace id',
  );
  for (const line of lines) {
    expect(line).toMatchObject({ trace_id: traceId, requestId });
    expect(byId.has(line.fields!.span_id!)).toBe(true);
  }
}, 60_000);
