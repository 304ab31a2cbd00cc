import { EventEmitter } from 'node:events';
import {
  InternalClient,
  InternalTokens,
  requestContext,
  startService,
  type InstanceRecord,
  type RunningService,
} from '../src';
import { testEnv, TEST_SECRET } from '../src/testing';
import { echoService } from './fixtures/echo-service';

/** The registry as a caller sees it: here, two real echo instances we started. */
class StaticRegistry extends EventEmitter {
  revision = 1;
  constructor(private readonly list: () => InstanceRecord[]) {
    super();
  }
  services() {
    return new Map([['echo', this.list()]]);
  }
  instances(service: string) {
    return service === 'echo' ? this.list() : [];
  }
}

const record = (svc: RunningService<never>, id: string, address = svc.url): InstanceRecord => ({
  service: 'echo',
  instanceId: id,
  address,
  version: '1',
  routes: [],
  registeredAt: '',
  lastHeartbeatAt: '',
  leaseExpiresAt: '',
});

describe('internal client', () => {
  let a: RunningService<never>;
  let b: RunningService<never>;
  let instances: InstanceRecord[];
  let client: InternalClient;

  beforeAll(async () => {
    const started = await Promise.all([
      startService(echoService, { env: testEnv(), waitReady: true }),
      startService(echoService, { env: testEnv(), waitReady: true }),
    ]);
    a = started[0] as unknown as RunningService<never>;
    b = started[1] as unknown as RunningService<never>;
    client = new InternalClient(
      new StaticRegistry(() => instances),
      new InternalTokens('caller', TEST_SECRET),
      300,
    );
  });
  beforeEach(() => {
    instances = [record(a, 'a'), record(b, 'b')];
  });
  afterAll(() => Promise.all([a.stop(), b.stop()]));

  it('when calling by name, then requests spread over instances and carry the request id and a token', async () => {
    const seen = new Set<string>();
    await requestContext.run({ requestId: 'rid-42' }, async () => {
      for (let i = 0; i < 4; i++) {
        const res = await client.request<{
          instanceId: string;
          requestId: string;
          caller: { service: string };
        }>('echo', {
          method: 'GET',
          path: '/whoami',
        });
        expect(res.status).toBe(200);
        expect(res.data.requestId).toBe('rid-42');
        expect(res.data.caller).toEqual({ service: 'caller' });
        seen.add(res.data.instanceId);
      }
    });
    expect(seen.size).toBe(2);
  });

  it('when one instance is unreachable, then an idempotent call succeeds on the other', async () => {
    instances = [record(a, 'dead', 'http://127.0.0.1:1'), record(b, 'b')];
    for (let i = 0; i < 4; i++) {
      expect((await client.request('echo', { method: 'GET', path: '/items/1' })).status).toBe(200);
    }
  });

  it('when the only reachable path fails for a POST, then it is not retried and the caller gets 503', async () => {
    instances = [record(a, 'dead', 'http://127.0.0.1:1')];
    await expect(
      client.request('echo', { method: 'POST', path: '/items', body: { name: 'x', quantity: 1 } }),
    ).rejects.toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
  });

  it('when the callee is too slow, then 504 naming the service', async () => {
    await expect(client.request('echo', { method: 'GET', path: '/slow?ms=1000' })).rejects.toMatchObject({
      status: 504,
      message: 'echo service did not answer in time',
    });
  });

  it('when no instance is registered, then 503 naming the service', async () => {
    await expect(client.request('nobody', { method: 'GET', path: '/' })).rejects.toMatchObject({
      status: 503,
      message: 'nobody service has no instance',
    });
  });

  it('when the callee answers 4xx, then the answer is returned, not thrown', async () => {
    const res = await client.request<{ code: string }>('echo', {
      method: 'GET',
      path: '/conflict',
    });
    expect(res.status).toBe(409);
    expect(res.data.code).toBe('CONFLICT');
  });
});
