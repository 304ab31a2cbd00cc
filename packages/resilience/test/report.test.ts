import { renderReport } from '../src/report';

test('the report has one table row per recorded figure, per setup, and the static notes', () => {
  const md = renderReport([
    {
      setup: 'embedded defaults (PGlite, in-memory cache)',
      node: 'v20.0.0',
      updatedAt: '2026-01-01T00:00:00.000Z',
      entries: [
        {
          kind: 'fault',
          name: 'kill | one',
          load: '30 req/s × 5 s',
          sent: 150,
          failed: 0,
          failedMeans: 'no answer',
          dataLost: 0,
          recoveryMs: 1234,
        },
        {
          kind: 'fault',
          name: 'never back',
          load: 'x',
          sent: 1,
          failed: 1,
          failedMeans: 'y',
          dataLost: 0,
          recoveryMs: null,
        },
        { kind: 'input', name: 'malformed JSON', cases: 96, violations: 0 },
        { kind: 'input', name: 'wrong types', cases: 4, violations: 0 },
        { kind: 'security', name: 'alg none', cases: 3, violations: 0 },
      ],
    },
  ]);
  expect(md).toContain('## embedded defaults (PGlite, in-memory cache)');
  expect(md).toContain('| kill \\| one | 30 req/s × 5 s | 150 | 0 (no answer) | 0 | 1234 ms |  |');
  expect(md).toContain('| never back | x | 1 | 1 (y) | 0 | — |  |');
  expect(md).toContain('100 cases in all.');
  expect(md).toContain('| alg none | 3 | 0 |  |');
  expect(md).toContain('Accepted exceptions: none.');
});
