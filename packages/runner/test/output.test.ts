import { colors, Prefixer, prettyLogs } from '../src/output';

describe('output', () => {
  test('when a service writes a JSON log line, then it is shown as text without what the prefix already says', () => {
    const format = prettyLogs();
    const line = JSON.stringify({
      level: 'warn',
      time: '2026-01-01T00:00:00.000Z',
      service: 'member',
      instance: 'member-host-1-ab',
      message: 'slow query',
      ms: 120,
    });
    const [text, ...rest] = format(line);
    expect(rest).toEqual([]);
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: slow query \{"ms":120\}$/);
  });

  test('when a line is not JSON, then it passes through unchanged', () => {
    expect(prettyLogs()('config: PORT must be a number')).toEqual(['config: PORT must be a number']);
    expect(prettyLogs()('{not json')).toEqual(['{not json']);
  });

  test('when labels differ in length, then every prefix is padded to the longest', () => {
    const prefixer = new Prefixer();
    prefixer.widen('purchase#10');
    expect(prefixer.prefix('member', 'member#1')).toBe('member#1    |');
  });
});

describe('colour', () => {
  test('when colour is asked for, then prefixes are coloured one colour per service', () => {
    const prefixer = new Prefixer(0, colors(true));
    const member = prefixer.prefix('member', 'member#1');
    expect(member).toBe('\u001b[36mmember#1 |\u001b[39m');
    expect(prefixer.prefix('purchase', 'purchase#1')).toContain('\u001b[35m');
    expect(prefixer.prefix('member', 'member#2')).toContain('\u001b[36m');
  });
});
