import { backoffDelay, defaultRestartPolicy, describeExit } from '../src/process';

describe('restart backoff', () => {
  test('when an instance crashes again and again, then the delay doubles from 250 ms up to 8 s', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 50].map((n) => backoffDelay(n, defaultRestartPolicy));
    expect(delays).toEqual([250, 500, 1000, 2000, 4000, 8000, 8000, 8000, 8000]);
  });

  test('when an exit is described, then a signal is named, else the code', () => {
    expect(describeExit({ code: 1, signal: null })).toBe('exited with code 1');
    expect(describeExit({ code: null, signal: 'SIGKILL' })).toBe('was killed by SIGKILL');
  });
});
