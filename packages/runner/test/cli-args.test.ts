import { parseCliArgs } from '../src/cli-args';
import { UsageError } from '../src/services';

describe('command line', () => {
  test('when --scale is given several times, then each service gets its count', () => {
    expect(parseCliArgs(['--scale', 'purchase=3', '--scale=product=2'])).toEqual({
      scale: { purchase: 3, product: 2 },
      only: undefined,
      help: false,
      prettyLogs: true,
      rootDir: undefined,
      watch: false,
    });
  });

  test('when --watch is given (npm run dev), then the sources are to be watched', () => {
    expect(parseCliArgs(['--watch', '--scale', 'product=2'])).toMatchObject({
      watch: true,
      scale: { product: 2 },
    });
  });

  test('when --only lists services, then they are split on commas', () => {
    expect(parseCliArgs(['--only', 'gateway, member,']).only).toEqual(['gateway', 'member']);
  });

  test('when --json-logs is given, then log lines are shown as written', () => {
    expect(parseCliArgs(['--json-logs']).prettyLogs).toBe(false);
  });

  test('when --help is given, then help is asked for', () => {
    expect(parseCliArgs(['--help']).help).toBe(true);
    expect(parseCliArgs(['-h']).help).toBe(true);
  });

  test.each([
    [['--scale', 'purchase'], '--scale purchase: expected <service>=<count>'],
    [['--scale', 'purchase=-1'], 'expected <service>=<count>'],
    [['--scale', 'Purchase=2'], 'expected <service>=<count>'],
    [['--only', ','], '--only needs service names'],
    [['--verbose'], "Unknown option '--verbose'"],
    [['member'], 'Unexpected argument'],
  ])('when the arguments are %j, then a usage error says so', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(UsageError);
    expect(() => parseCliArgs(argv)).toThrow(message);
  });
});
