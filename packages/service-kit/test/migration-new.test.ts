import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readMigrations } from '../src';

// bin/migration-new.mjs, as `npm run migration:new -w @msa/<service> -- <name>` runs it: in the service's folder.
describe('migration:new', () => {
  const script = path.join(__dirname, '..', 'bin', 'migration-new.mjs');
  let cwd: string;
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [script, ...args], { cwd, encoding: 'utf8' });

  beforeEach(() => {
    cwd = mkdtempSync(path.join(os.tmpdir(), 'msa-service-'));
  });
  afterEach(() => rmSync(cwd, { recursive: true, force: true }));

  it('when the service has migrations, then it creates the next numbered file and prints its path', () => {
    const dir = path.join(cwd, 'migrations');
    const first = run('create', 'members');
    expect(first.status).toBe(0);
    expect(first.stdout.trim()).toBe(path.join('migrations', '001_create_members.sql'));
    writeFileSync(path.join(dir, '007_later.sql'), 'SELECT 1;\n');

    const next = run('Add', 'phone-number');
    expect(next.status).toBe(0);
    expect(next.stdout.trim()).toBe(path.join('migrations', '008_add_phone_number.sql'));
    expect(readdirSync(dir).sort()).toEqual([
      '001_create_members.sql',
      '007_later.sql',
      '008_add_phone_number.sql',
    ]);
    expect(readFileSync(path.join(dir, '008_add_phone_number.sql'), 'utf8')).toMatch(
      /^-- 008_add_phone_number: /,
    );
    // The kit's runner reads it like any other (comments only: a no-op until written).
    expect(readMigrations(dir).map((m) => m.version)).toEqual([
      '001_create_members',
      '007_later',
      '008_add_phone_number',
    ]);
  });

  it('when the name is missing or not a name, then it says how to call it and creates nothing', () => {
    const none = run();
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/usage: npm run migration:new -w @msa\/<service> -- <name>/);
    const bad = run('9lives');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/"9lives" is not a migration name/);
    expect(readdirSync(cwd)).toEqual([]);
  });
});
