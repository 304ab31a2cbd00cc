import { parseArgs } from '../src/bench';
import { formatResults, parseLoadgenArgs } from '../src/loadgen';

describe('bench arguments', () => {
  it('runs every part by default, or the parts named', () => {
    expect(parseArgs([]).parts).toEqual([
      'hop-light',
      'hop',
      'registry',
      'scale',
      'startup',
      'footprint',
      'revocation',
      'shipping',
    ]);
    expect(parseArgs(['hop', '--quick'])).toMatchObject({ parts: ['hop'], quick: true, noProfile: false });
  });

  it('refuses an unknown part', () => {
    expect(() => parseArgs(['hops'])).toThrow(/unknown argument: hops/);
  });
});

describe('loadgen arguments', () => {
  it('has bounded defaults and takes a target url', () => {
    expect(parseLoadgenArgs([])).toEqual({ durationS: 20, connections: 20 });
    expect(parseLoadgenArgs(['--url', 'http://127.0.0.1:8080/', '--duration', '5'])).toMatchObject({
      url: 'http://127.0.0.1:8080',
      durationS: 5,
    });
  });

  it('refuses an unbounded or missing duration', () => {
    expect(() => parseLoadgenArgs(['--duration', '0'])).toThrow(/1 to 3600/);
    expect(() => parseLoadgenArgs(['--duration'])).toThrow(/needs a value/);
  });

  it('prints failures per journey by status', () => {
    const table = formatResults([
      {
        journey: 'buy',
        connections: 4,
        requests: 30,
        rps: 10,
        journeysPerSecond: 3.3,
        p50: 5,
        p90: 9,
        p99: 20,
        errors: 1,
        non2xx: 2,
        statuses: { '201': 10, '200': 17, '409': 2 },
      },
    ]);
    expect(table).toContain('2× 409, 1× connection error/timeout');
    expect(table.split('\n').at(-1)).toMatch(/^\| all +\| +4 \| +10\.0 \|.*\| +3 \|/);
  });
});
