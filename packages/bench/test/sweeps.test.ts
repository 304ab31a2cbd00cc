import { SweepFigures, type Sample, type Target } from '../src/sweeps';

const target = (name: string, kind: Target['kind']): Target => ({
  name,
  kind,
  url: '',
  headers: {},
  pids: () => [],
});

function sample(target: string, sweep: number, rps: number, hopCpuUs: number, p99 = 10): Sample {
  return {
    target,
    sweep,
    rps,
    hopCpuUs,
    upstreamCpuUs: 50,
    requests: rps * 10,
    p50: 5,
    p90: 8,
    p99,
    errors: 0,
    non2xx: 0,
    statuses: {},
  };
}

describe('hop sweep figures', () => {
  const targets = [
    target('direct', 'direct'),
    target('ours', 'ours'),
    target('a', 'node'),
    target('b', 'node'),
  ];

  it('takes each ratio within one sweep, then the median over the sweeps', () => {
    // Direct doubles in sweep 2 (a busier machine in sweep 1): per-sweep ratios stay 0.5, medians of req/s would not.
    const f = new SweepFigures(
      targets,
      [
        sample('direct', 0, 1000, NaN),
        sample('ours', 0, 500, 100),
        sample('direct', 1, 2000, NaN),
        sample('ours', 1, 1000, 100),
      ],
      2,
    );
    expect(f.ratiosIn('ours')).toEqual([0.5, 0.5]);
    expect(f.ratioIn('ours')).toBe(0.5);
  });

  it('names the Node peer with the least CPU per request as the best, not the fastest', () => {
    const f = new SweepFigures(
      targets,
      [sample('direct', 0, 1000, NaN), sample('a', 0, 900, 120), sample('b', 0, 600, 80)],
      1,
    );
    expect(f.bestNodePeer()).toEqual({ name: 'b', cpu: 80 });
  });

  it('prints a row per target, direct as 1.00× with no hop CPU', () => {
    const f = new SweepFigures(
      targets.slice(0, 2),
      [sample('direct', 0, 1000, NaN), sample('ours', 0, 400, 150, 42)],
      1,
    );
    const [, , direct, ours] = f.table().split('\n');
    expect(direct).toMatch(/\| direct +\| +1,000 \| +1\.00× \|.*\| +— \| +50 \| +0 \|/);
    expect(ours).toMatch(/\| ours +\| +400 \| +0\.40× \|.*5 \/ 42 \| +150 \| +50 \| +0 \|/);
  });
});
