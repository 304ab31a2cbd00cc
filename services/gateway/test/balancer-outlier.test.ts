import { pickUpstream } from '../src/proxy/balancer';
import { OutlierDetector } from '../src/proxy/outlier';
import { Upstream } from '../src/proxy/upstreams';

function setup(n: number) {
  const upstreams = Array.from(
    { length: n },
    (_, i) => new Upstream('purchase', `u${i}`, `http://127.0.0.1:${9000 + i}`),
  );
  const outlier = new OutlierDetector({ failures: 3, baseEjectMs: 5000, maxEjectMs: 30000 }, () => upstreams);
  const route = { upstreams, cursor: 0 };
  const close = () => upstreams.forEach((u) => u.agent.destroy());
  return { upstreams, outlier, route, close };
}

describe('balancer', () => {
  it('when instances are equally loaded, then picks take turns', () => {
    const { outlier, route, close } = setup(3);
    const picks = Array.from({ length: 6 }, () => pickUpstream(route, outlier, 0)!.instanceId);
    expect(picks).toEqual(['u0', 'u1', 'u2', 'u0', 'u1', 'u2']);
    close();
  });

  it('when one instance has fewer requests in flight, then it is picked', () => {
    const { upstreams, outlier, route, close } = setup(3);
    upstreams[0]!.inFlight = 4;
    upstreams[1]!.inFlight = 1;
    upstreams[2]!.inFlight = 3;
    expect(pickUpstream(route, outlier, 0)!.instanceId).toBe('u1');
    close();
  });

  it('when retrying, then the failed instance is avoided', () => {
    const { upstreams, outlier, route, close } = setup(2);
    for (let i = 0; i < 4; i++) expect(pickUpstream(route, outlier, 0, upstreams[0])!.instanceId).toBe('u1');
    expect(pickUpstream({ upstreams: [upstreams[0]!], cursor: 0 }, outlier, 0, upstreams[0])).toBeUndefined();
    close();
  });

  it('when there is no instance, then there is nothing to pick', () => {
    const { outlier, close } = setup(0);
    expect(pickUpstream({ upstreams: [], cursor: 0 }, outlier, 0)).toBeUndefined();
    close();
  });
});

describe('outlier ejection', () => {
  it('when an instance fails 3 times in a row, then it is ejected for 5 s and re-admitted after', () => {
    const { upstreams, outlier, route, close } = setup(2);
    const [bad] = upstreams;
    outlier.failure(bad!, 1000);
    outlier.failure(bad!, 1001);
    expect(outlier.isEjected(bad!, 1002)).toBe(false);
    outlier.failure(bad!, 1002);
    expect(outlier.isEjected(bad!, 1003)).toBe(true);
    for (let i = 0; i < 4; i++) expect(pickUpstream(route, outlier, 2000)!.instanceId).toBe('u1');
    expect(outlier.isEjected(bad!, 1002 + 5000)).toBe(false);
    expect(new Set([0, 1].map(() => pickUpstream(route, outlier, 6100)!.instanceId))).toEqual(
      new Set(['u0', 'u1']),
    );
    close();
  });

  it('when a success comes between failures, then the count starts again', () => {
    const { upstreams, outlier, close } = setup(2);
    const bad = upstreams[0]!;
    outlier.failure(bad, 1);
    outlier.failure(bad, 2);
    outlier.success(bad);
    outlier.failure(bad, 3);
    outlier.failure(bad, 4);
    expect(outlier.isEjected(bad, 5)).toBe(false);
    close();
  });

  it('when an instance is ejected again, then for longer each time, capped at 30 s', () => {
    const { upstreams, outlier, close } = setup(2);
    const bad = upstreams[0]!;
    let now = 0;
    const lengths: number[] = [];
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 3; i++) outlier.failure(bad, now);
      lengths.push(bad.ejectedUntil - now);
      now = bad.ejectedUntil + 1;
    }
    expect(lengths).toEqual([5000, 10000, 15000, 20000, 25000, 30000, 30000, 30000]);
    close();
  });

  it('when an instance stays clean for the cap time, then its next ejection is short again', () => {
    const { upstreams, outlier, close } = setup(2);
    const bad = upstreams[0]!;
    for (let i = 0; i < 3; i++) outlier.failure(bad, 0);
    for (let i = 0; i < 3; i++) outlier.failure(bad, 6000);
    expect(bad.ejectedUntil - 6000).toBe(10000);
    const later = 16000 + 30001;
    for (let i = 0; i < 3; i++) outlier.failure(bad, later);
    expect(bad.ejectedUntil - later).toBe(5000);
    close();
  });

  it('when every other instance is ejected, then the last one is never ejected', () => {
    const { upstreams, outlier, route, close } = setup(2);
    const [a, b] = upstreams;
    for (let i = 0; i < 3; i++) outlier.failure(a!, 10);
    for (let i = 0; i < 10; i++) outlier.failure(b!, 10);
    expect(outlier.isEjected(a!, 11)).toBe(true);
    expect(outlier.isEjected(b!, 11)).toBe(false);
    expect(pickUpstream(route, outlier, 11)!.instanceId).toBe('u1');
    close();
  });

  it('when the only instances of a route are ejected, then they are still used rather than none', () => {
    const { upstreams, outlier, close } = setup(3);
    for (let i = 0; i < 3; i++) outlier.failure(upstreams[0]!, 10);
    const subset = { upstreams: [upstreams[0]!], cursor: 0 };
    expect(outlier.isEjected(upstreams[0]!, 11)).toBe(true);
    expect(pickUpstream(subset, outlier, 11)!.instanceId).toBe('u0');
    close();
  });
});
