import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readWorkspace, rebuildOrder } from '../src/workspace';

let root: string;

function pkg(folder: string, name: string, deps: Record<string, string> = {}, devDeps = {}): void {
  mkdirSync(path.join(root, folder), { recursive: true });
  writeFileSync(
    path.join(root, folder, 'package.json'),
    JSON.stringify({ name, dependencies: deps, devDependencies: devDeps }),
  );
}

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'msa-workspace-'));
  pkg('packages/service-kit', '@msa/service-kit', { pino: '^10' });
  pkg('packages/openapi', '@msa/openapi', { '@msa/product': '*', '@msa/service-kit': '*' });
  pkg('packages/helpers', '@msa/helpers', { '@msa/service-kit': '*' });
  pkg('services/product', '@msa/product', { '@msa/service-kit': '*', pg: '^8' });
  // Its tests use product: no reason to rebuild it when product changes.
  pkg('services/purchase', '@msa/purchase', { '@msa/helpers': '*' }, { '@msa/product': '*' });
  pkg('services/distributor', '@msa/distributor', {});
  // A linked service counts, under its real path.
  pkg('elsewhere/member', '@msa/member', { '@msa/service-kit': '*' });
  symlinkSync(path.join(root, 'elsewhere/member'), path.join(root, 'services/member'), 'dir');
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the workspace behind the dev watch', () => {
  test('when the packages are read, then each has its workspace dependencies only (not devDependencies), and linked folders their real path', () => {
    const workspace = readWorkspace(root);
    const summary = Object.fromEntries(workspace.map((p) => [p.name, [p.isService, p.localDependencies]]));
    expect(summary).toEqual({
      '@msa/service-kit': [false, []],
      '@msa/openapi': [false, ['@msa/product', '@msa/service-kit']],
      '@msa/helpers': [false, ['@msa/service-kit']],
      '@msa/product': [true, ['@msa/service-kit']],
      '@msa/purchase': [true, ['@msa/helpers']],
      '@msa/distributor': [true, []],
      '@msa/member': [true, ['@msa/service-kit']],
    });
    expect(workspace.find((p) => p.name === '@msa/member')!.dir).toBe(path.join(root, 'elsewhere', 'member'));
  });

  test('when the kit changes, then it is rebuilt first, then every package using it, even through another library', () => {
    const order = rebuildOrder(readWorkspace(root), ['@msa/service-kit']).map((p) => p.name);
    expect(order[0]).toBe('@msa/service-kit');
    expect(new Set(order)).toEqual(
      new Set([
        '@msa/service-kit',
        '@msa/openapi',
        '@msa/helpers',
        '@msa/product',
        '@msa/purchase',
        '@msa/member',
      ]),
    );
    expect(order.indexOf('@msa/helpers')).toBeLessThan(order.indexOf('@msa/purchase'));
    expect(order.indexOf('@msa/product')).toBeLessThan(order.indexOf('@msa/openapi'));
  });

  test('when one service changes, then only it and what depends on it are rebuilt; an unknown name is ignored', () => {
    const workspace = readWorkspace(root);
    expect(rebuildOrder(workspace, ['@msa/distributor']).map((p) => p.name)).toEqual(['@msa/distributor']);
    expect(rebuildOrder(workspace, ['@msa/product']).map((p) => p.name)).toEqual([
      '@msa/product',
      '@msa/openapi',
    ]);
    expect(rebuildOrder(workspace, ['left-pad'])).toEqual([]);
  });
});
