import { fixed, markdownTable, median, percentile, ratio } from '../src/stats';

describe('percentile', () => {
  it('takes the nearest rank of an unsorted sample', () => {
    const xs = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 90)).toBe(9);
    expect(percentile(xs, 99)).toBe(10);
    expect(percentile(xs, 100)).toBe(10);
    expect(percentile(xs, 0)).toBe(1);
    expect(xs[0]).toBe(5); // the input is not sorted in place
  });

  it('is NaN for an empty sample', () => {
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('median', () => {
  it('averages the middle two of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([])).toBeNaN();
  });
});

describe('formatting', () => {
  it('writes ratios like 0.78×, and — when there is no reference', () => {
    expect(ratio(780, 1000)).toBe('0.78×');
    expect(ratio(1, 0)).toBe('—');
    expect(ratio(NaN, 1)).toBe('—');
  });

  it('groups thousands and shows — for a missing number', () => {
    expect(fixed(12345.6)).toBe('12,346');
    expect(fixed(1.234, 1)).toBe('1.2');
    expect(fixed(undefined)).toBe('—');
  });

  it('makes a Markdown table with the first column left-aligned and numbers right-aligned', () => {
    const t = markdownTable(
      ['name', 'req/s'],
      [
        ['nginx', '12,000'],
        ['gateway', '9'],
      ],
    );
    expect(t.split('\n')).toEqual([
      '| name    |  req/s |',
      '| ------- | -----: |',
      '| nginx   | 12,000 |',
      '| gateway |      9 |',
    ]);
  });
});
