import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const script = path.resolve(__dirname, '..', '..', '..', 'scripts', 'ensure-installed.mjs');

/** Asks scripts/ensure-installed.mjs (plain ESM, run as npm would) why a repo needs an install. */
function installReason(root: string): string | null {
  const code = `import { installReason } from ${JSON.stringify(pathToFileURL(script).href)};
    console.log(JSON.stringify(installReason(${JSON.stringify(root)}) ?? null));`;
  return JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' }),
  );
}

describe('scripts/ensure-installed.mjs', () => {
  let root: string;
  const file = (relative: string, content = '{}'): string => {
    const full = path.join(root, relative);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, content);
    return full;
  };
  const age = (relative: string, secondsAgo: number): void => {
    const when = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(path.join(root, relative), when, when);
  };

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'msa-install-'));
    file('package.json', JSON.stringify({ workspaces: ['packages/*', 'services/*'] }));
    file('packages/kit/package.json', JSON.stringify({ name: '@msa/kit' }));
    file('package-lock.json');
    age('package-lock.json', 60);
    file('node_modules/.bin/turbo', '');
    file('node_modules/.package-lock.json');
    file('node_modules/@msa/kit/package.json');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('when everything is installed, then nothing is to do', () => {
    expect(installReason(root)).toBeNull();
  });

  test('when it is a fresh clone, then turbo is missing', () => {
    rmSync(path.join(root, 'node_modules'), { recursive: true });
    expect(installReason(root)).toBe('node_modules/.bin/turbo is missing');
  });

  test('when package-lock.json changed after the last install, then it says so', () => {
    age('node_modules/.package-lock.json', 120);
    expect(installReason(root)).toBe('package-lock.json is newer than node_modules');
  });

  test('when a new workspace appeared, then it is named', () => {
    file('services/member/package.json', JSON.stringify({ name: '@msa/member' }));
    expect(installReason(root)).toBe(
      'workspace @msa/member (services/member) is not linked into node_modules',
    );
  });
});
