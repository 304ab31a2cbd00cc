import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

// One answer to "which Node does this run on": the lines package.json's engines admits are the lines the
// workflow tests, @types/node is the lowest of them (no API a supported line lacks), and .nvmrc names the
// line the images run.
const root = path.resolve(__dirname, '..', '..', '..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
const pkg = JSON.parse(read('package.json')) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
};

/** "^20.12.0 || ^22.0.0 || ^24.0.0" → [20, 22, 24]; anything but a list of ^ ranges is refused. */
function enginesLines(range: string): number[] {
  return range.split('||').map((part) => {
    const match = /^\s*\^(\d+)(\.\d+){0,2}\s*$/.exec(part);
    if (!match) throw new Error(`engines.node "${range}": "${part.trim()}" is open-ended or not a ^ range`);
    return Number(match[1]);
  });
}

describe('the supported Node lines', () => {
  const lines = enginesLines(pkg.engines.node);

  test('when engines admits a line, then the CI workflow tests it, and only those', () => {
    const workflow = parse(read('.github/workflows/ci.yml')) as {
      jobs: { test: { strategy: { matrix: { node: number[] } } } };
    };
    expect([...workflow.jobs.test.strategy.matrix.node].sort()).toEqual([...lines].sort());
  });

  test('when the types are installed, then they are those of the lowest supported line', () => {
    expect(pkg.devDependencies['@types/node']).toMatch(new RegExp(`^\\^${Math.min(...lines)}\\.`));
  });

  test('when .nvmrc names a line, then it is the newest supported one, the one every image is built on', () => {
    const nvmrc = read('.nvmrc').trim();
    expect(nvmrc).toBe(String(Math.max(...lines)));
    const bases = [...read('Dockerfile').matchAll(/^FROM node:(\d+)[-.]/gm)].map((m) => m[1]);
    expect(bases.length).toBeGreaterThan(0);
    expect(new Set(bases)).toEqual(new Set([nvmrc]));
  });

  test('when engines is read, then an open-ended range is refused (it would admit lines nobody tests)', () => {
    expect(() => enginesLines('>=20')).toThrow('open-ended');
    expect(enginesLines('^20.12.0 || ^22')).toEqual([20, 22]);
  });
});
