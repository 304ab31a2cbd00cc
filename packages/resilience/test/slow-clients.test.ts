// Issue 14, point 6: clients that send the headers of POST /members and part of its body, then stall. They must
// be the gateway's 408 (on its own body timeout), never an instance's 504, never counted against the member
// instance, and must not hold up another member's requests.
import net from 'node:net';
import { InternalTokens } from '@msa/service-kit';
import { call, newMember, type Member } from './support/api';
import { record } from './support/record';
import { startShop, type Shop } from './support/shop';

const STALLED = 140; // as in the issue: more than the 128 sockets the gateway keeps per instance
const BODY_TIMEOUT_MS = 2000;

let shop: Shop;
let alice: Member;
let internal: string;

beforeAll(async () => {
  shop = await startShop({
    only: ['gateway', 'member'],
    env: { RATE_LIMIT_POINTS: '0', BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS) },
  });
  alice = await newMember(shop.gateway);
  internal = await new InternalTokens('resilience', shop.system.internalTokenSecret, 3600).sign();
}, 120_000);

afterAll(async () => {
  await shop?.stop();
}, 60_000);

interface Stalled {
  /** The status the gateway answered (0: none), once it answered or closed. */
  answer: Promise<{ status: number; closed: boolean; text: string }>;
  stop(): void;
}

/** From another loopback address than the test's own calls: another client, as the gateway sees it. */
function stalledRegistration(url: string, waitMs: number): Stalled {
  const { hostname, port } = new URL(url);
  const socket = net.connect({ host: hostname, port: Number(port), localAddress: '127.0.0.2' });
  socket.on('error', () => undefined);
  const body = JSON.stringify({ email: 'slow@example.com', password: 'a-long-password', name: 'Slow' });
  socket.on('connect', () =>
    socket.write(
      `POST /members HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n` +
        body.slice(0, 20),
    ),
  );
  let text = '';
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
  const answer = new Promise<{ status: number; closed: boolean; text: string }>((resolve) => {
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), closed, text });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('close', () => finish(true));
  });
  return { answer, stop: () => socket.destroy() };
}

interface RouteInstance {
  instanceId: string;
  inFlight: number;
  ejectedForMs: number;
}

async function memberInstances(): Promise<RouteInstance[]> {
  const res = await fetch(`${shop.gatewayAdmin}/internal/routes`, {
    headers: { 'x-internal-token': internal },
  });
  const { routes } = (await res.json()) as { routes: { path: string; instances: RouteInstance[] }[] };
  return routes.find((r) => r.path === '/members')!.instances;
}

async function memberFigures(): Promise<{ errorRate: number; count: number }> {
  const res = await fetch(`${shop.gatewayAdmin}/internal/status`, {
    headers: { 'x-internal-token': internal },
  });
  const snap = (await res.json()) as {
    services: { name: string; instances: { errorRate: number; count: number }[] }[];
  };
  return snap.services.find((s) => s.name === 'member')!.instances[0]!;
}

test('clients that stall mid-body get 408 from the gateway; the member instance is not blamed and others are served', async () => {
  // Bounded: the gateway must answer each within its body timeout, give or take; 504s would come after 5 s.
  const stalled = Array.from({ length: STALLED }, () =>
    stalledRegistration(shop.gateway, BODY_TIMEOUT_MS + 8000),
  );
  try {
    // Meanwhile another member's own requests, one after the other, until every stalled client is answered.
    const latencies: number[] = [];
    const statuses: number[] = [];
    let settled = false;
    const all = Promise.all(stalled.map((s) => s.answer)).finally(() => (settled = true));
    while (!settled) {
      const t0 = performance.now();
      const me = await call(shop.gateway, 'GET', '/members/me', { token: alice.token });
      latencies.push(performance.now() - t0);
      statuses.push(me.status);
    }
    const answers = await all;
    const instances = await memberInstances();
    const figures = await memberFigures();
    const sorted = [...latencies].sort((a, b) => a - b);
    const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
    const not408 = answers.filter((a) => !(a.status === 408 && a.closed));
    record({
      kind: 'security',
      name: `${STALLED} clients stalling mid-body on POST /members while another member calls GET /members/me`,
      cases: STALLED + statuses.length,
      violations: not408.length + statuses.filter((s) => s !== 200).length,
      notes:
        `stalled clients answered ${[...new Set(answers.map((a) => a.status))].join(', ')} by the gateway ` +
        `(BODY_TIMEOUT_MS ${BODY_TIMEOUT_MS}); member instance ejected for ${instances[0]!.ejectedForMs} ms, ` +
        `error rate ${figures.errorRate}; meanwhile GET /members/me ×${statuses.length}: ` +
        `p50 ${at(0.5)} ms, max ${Math.round(sorted[sorted.length - 1]!)} ms (measured, not asserted)`,
    });
    expect(not408.map((a) => a.status)).toEqual([]);
    expect(answers[0]!.text).toContain('"code":"REQUEST_TIMEOUT"');
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // Nothing of it reached or was counted against the member instance.
    expect(instances.map((i) => i.ejectedForMs)).toEqual([0]);
    expect(figures.errorRate).toBe(0);
  } finally {
    for (const s of stalled) s.stop();
  }
});
