import { areaOf, buckets, selfTimes } from '../src/profile';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

describe('selfTimes', () => {
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)') },
      { id: 2, callFrame: frame('(idle)') },
      { id: 3, callFrame: frame('handle', 'file:///w/services/gateway/dist/proxy/handler.js', 9) },
      { id: 4, callFrame: frame('emit', 'node:events', 470) },
    ],
    startTime: 0,
    samples: [3, 2, 4, 3, 3],
    timeDeltas: [100, 1000, 50, 100, 100],
  };

  it('adds the time of each sample to its function, busiest first, leaving idle out', () => {
    const out = selfTimes(profile);
    expect(out.map((s) => [s.name, s.micros])).toEqual([
      ['handle proxy/handler.js:10', 300],
      ['emit node:events:471', 50],
    ]);
    expect(out[0]!.area).toBe('services/gateway');
  });

  it('keeps only the samples inside the measured window, on the monotonic clock', () => {
    expect(
      selfTimes({ ...profile, startTime: 1_000_000 }, 1_001_120, 1_001_300).map((s) => s.micros),
    ).toEqual([100, 50]);
    // sample times: 100, 1100, 1150, 1250, 1350 (from startTime)
    expect(selfTimes(profile, 1120, 1300).map((s) => [s.name, s.micros])).toEqual(
      [
        ['emit node:events:471', 50],
        ['handle proxy/handler.js:10', 100],
      ].sort((a, b) => (b[1] as number) - (a[1] as number)),
    );
  });
});

describe('areaOf', () => {
  it('names the package, the Node module or the workspace a function belongs to', () => {
    expect(areaOf('x', '/w/node_modules/pino/lib/tools.js')).toBe('pino');
    expect(areaOf('x', '/w/node_modules/@msa/service-kit/dist/a.js')).toBe('@msa/service-kit');
    expect(areaOf('x', 'node:internal/streams/writable')).toBe('node:streams/writable');
    expect(areaOf('x', 'node:events')).toBe('node:events');
    expect(areaOf('(garbage collector)', '')).toBe('(garbage collector)');
    expect(areaOf('writev', '')).toBe('native (V8/libuv)');
  });
});

describe('buckets', () => {
  it('sorts busy time by purpose, the unknown under other', () => {
    const shares = buckets([
      { name: 'writeString', area: 'native (V8/libuv)', micros: 20 },
      { name: 'asJson', area: 'pino', micros: 10 },
      { name: 'writev', area: 'native (V8/libuv)', micros: 50 },
      { name: 'handle', area: 'services/gateway', micros: 15 },
      { name: 'x', area: 'left-pad', micros: 5 },
    ]);
    expect(shares).toEqual([
      ["Node's HTTP, streams, sockets, event loop", 0.5],
      ['access log (pino, sonic-boom, file writes)', 0.3],
      ['gateway and kit code', 0.15],
      ['other', 0.05],
    ]);
  });
});
