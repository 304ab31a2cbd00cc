// The dev watch on fake services whose sources are plain JavaScript (tsc with allowJs builds them to dist/), so
// that the rounds are fast: a library change rebuilds the library and replaces the services using it, a build
// that fails or a new build that cannot start leaves the old instances serving.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startSystem, watchSystem, type DevWatcher, type Reload, type RunningSystem } from '../src';
import { isAlive, makeRoot, testEnv } from './fake-services';

const TSCONFIG = {
  compilerOptions: {
    allowJs: true,
    rootDir: 'src',
    outDir: 'dist',
    module: 'commonjs',
    target: 'es2022',
    types: [],
  },
  include: ['src'],
};

let root: ReturnType<typeof makeRoot>;
let system: RunningSystem;
let dev: DevWatcher;
let lines: string[];

/** Gives a package sources that build to what it runs, and these workspace dependencies. */
function withSources(folder: string, source: string, dependencies: Record<string, string> = {}): void {
  const dir = path.join(root.rootDir, folder);
  mkdirSync(path.join(dir, 'src'), { recursive: true });
  const name = `@msa/${path.basename(folder)}`;
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, private: true, dependencies }));
  writeFileSync(path.join(dir, 'tsconfig.build.json'), JSON.stringify(TSCONFIG));
  writeFileSync(path.join(dir, 'src', source.includes('process.send') ? 'main.js' : 'index.js'), source);
}

const distOf = (folder: string) => path.join(root.rootDir, folder, 'dist');
const nextReload = () => new Promise<Reload>((resolve) => dev.once('reload', resolve));

beforeEach(async () => {
  root = makeRoot({ distributor: {}, member: {}, purchase: {} });
  for (const service of ['member', 'purchase']) {
    const built = readFileSync(path.join(distOf(`services/${service}`), 'main.js'), 'utf8');
    withSources(`services/${service}`, built, service === 'member' ? { '@msa/lib': '*' } : {});
  }
  withSources('packages/lib', 'module.exports = { edition: 1 };\n');
  mkdirSync(distOf('packages/lib'));
  writeFileSync(path.join(distOf('packages/lib'), 'index.js'), 'module.exports = { edition: 1 };\n'); // as if built
  lines = [];
  system = await startSystem({
    rootDir: root.rootDir,
    env: testEnv(),
    quiet: true,
    print: (l) => lines.push(l),
  });
  dev = watchSystem(system, { debounceMs: 50 });
  // The distributor has no src/ here: nothing to watch there.
  expect(dev.watched.sort()).toEqual(
    ['packages/lib/src', 'services/member/src', 'services/purchase/src'].map((p) =>
      path.join(root.rootDir, p),
    ),
  );
}, 30_000);

afterEach(async () => {
  await dev?.close();
  await system?.stop();
  root?.cleanup();
});

describe('the dev watch', () => {
  test('when a library changes, then it is rebuilt and the services using it are replaced, new instance first; the others keep running', async () => {
    const before = { member: system.instance('member'), purchase: system.instance('purchase') };
    const distributorPid = system.instance('distributor').pid;
    const order: string[] = [];
    system.on('ready', (info: { label: string; pid: number }) => order.push(`ready ${info.pid}`));
    system.on('exit', (info: { pid?: number }, _exit: unknown, expected: boolean) =>
      order.push(`exit ${expected ? 'expected' : 'crash'}`),
    );

    const reloaded = nextReload();
    writeFileSync(path.join(root.rootDir, 'packages/lib/src/index.js'), 'module.exports = { edition: 2 };\n');
    const reload = await reloaded;

    expect(reload).toMatchObject({ replaced: ['member'], failed: [] });
    expect(readFileSync(path.join(distOf('packages/lib'), 'index.js'), 'utf8')).toContain('edition: 2');
    const member = system.instance('member');
    expect(member.pid).not.toBe(before.member.pid);
    expect(member.state).toBe('ready');
    expect(isAlive(before.member.pid)).toBe(false);
    expect(order).toEqual([`ready ${member.pid}`, 'exit expected']);
    expect(system.instance('purchase').pid).toBe(before.purchase.pid);
    expect(system.instance('distributor').pid).toBe(distributorPid);
    expect(lines.filter((l) => l.startsWith('↻ '))).toEqual([
      expect.stringMatching(
        /^↻ member: 1 instance\(s\) replaced in \d+\.\d s after a \d+\.\d s build — \d+\.\d s from the change$/,
      ),
    ]);
  });

  test('when a library does not compile, then the error is printed, nothing is written and its users keep running', async () => {
    const memberPid = system.instance('member').pid;
    const reloaded = nextReload();
    writeFileSync(path.join(root.rootDir, 'packages/lib/src/index.js'), 'module.exports = { edition: };\n');
    const reload = await reloaded;

    expect(reload).toMatchObject({ replaced: [], failed: expect.arrayContaining(['lib', 'member']) });
    const error = lines.find((l) =>
      l.startsWith('✖ lib does not compile; member keeps running the previous build:'),
    );
    expect(error).toContain('src/index.js(1,29): error TS1109: Expression expected.');
    expect(readFileSync(path.join(distOf('packages/lib'), 'index.js'), 'utf8')).toContain('edition: 1');
    expect(system.instance('member').pid).toBe(memberPid);
    expect(isAlive(memberPid)).toBe(true);
  });

  test('when a new build cannot start, then the old instances keep serving, and the next good change replaces them', async () => {
    const old = system.instance('member');
    const source = path.join(root.rootDir, 'services/member/src/main.js');
    const good = readFileSync(source, 'utf8');

    let reloaded = nextReload();
    writeFileSync(source, `console.error('no config'); process.exit(3);\n${good}`);
    expect(await reloaded).toMatchObject({ replaced: [], failed: ['member'] });
    expect(lines.join('\n')).toContain(
      '✖ member: the new build could not start (member#1 exited with code 3 before it was ready); the old instances keep serving:\n    no config',
    );
    expect(system.instance('member').pid).toBe(old.pid);
    expect((await fetch(old.url!)).status).toBe(200);

    reloaded = nextReload();
    writeFileSync(source, good);
    expect(await reloaded).toMatchObject({ replaced: ['member'], failed: [] });
    expect(system.instance('member').pid).not.toBe(old.pid);
    expect((await fetch(system.instance('member').url!)).status).toBe(200);
  });
});
