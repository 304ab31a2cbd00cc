import { colors, Prefixer, prettyLogs, readyLine } from '../src/output';

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

describe('ready lines', () => {
  const base = {
    service: 'x',
    index: 1,
    state: 'ready' as const,
    pid: 42,
    instanceId: 'x-host-42',
    restarts: 0,
  };

  test('when an embedded database server holds several databases, then its ready line names each URL', () => {
    const urls = {
      member: 'postgres://postgres@127.0.0.1:1/postgres',
      product: 'postgres://postgres@127.0.0.1:2/postgres',
    };
    const line = readyLine(
      {
        ...base,
        label: 'databases',
        url: urls.member,
        ready: { type: 'ready', service: 'databases', instanceId: 'x', pid: 42, url: urls.member, urls },
      },
      false,
    );
    expect(line).toBe(`✔ databases  x-host-42  pid 42  member ${urls.member}  product ${urls.product}`);
  });

  test('when an instance is ready, then its ready line names its URL', () => {
    expect(readyLine({ ...base, label: 'x#1', url: 'http://127.0.0.1:3' }, true)).toBe(
      '✔ x#1  x-host-42  pid 42  http://127.0.0.1:3  (restart 0)',
    );
  });
});
