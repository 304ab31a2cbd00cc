import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { loadConfig, ConfigError, z } from '../src';

describe('config', () => {
  const good = { INTERNAL_TOKEN_SECRET: 'x'.repeat(32) };

  it('when the environment is complete, then defaults fill the rest and numbers are numbers', () => {
    const config = loadConfig({ SHOP_SIZE: z.coerce.number().default(3) }, { ...good, PORT: '8081' });
    expect(config.PORT).toBe(8081);
    expect(config.SHOP_SIZE).toBe(3);
    expect(config.DISTRIBUTOR_URL).toBe('http://127.0.0.1:9000');
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it('when several variables are bad, then one error names every one of them', () => {
    let error: unknown;
    try {
      loadConfig(
        { ADMIN_EMAIL: z.email() },
        { PORT: 'eighty', DATABASE_URL: 'mysql://x', ADMIN_EMAIL: 'nope' },
      );
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('INTERNAL_TOKEN_SECRET is required');
    expect(message).toContain('PORT');
    expect(message).toContain('DATABASE_URL');
    expect(message).toContain('ADMIN_EMAIL');
  });

  it('when a variable is set to an empty string, then an optional one counts as not set', () => {
    expect(loadConfig(undefined, { ...good, DATABASE_URL: '', REDIS_URL: '' }).REDIS_URL).toBeUndefined();
  });

  it('when a service starts with a bad variable, then it prints one line naming it and exits non-zero', () => {
    const kit = path.resolve(__dirname, '..');
    const result = spawnSync(
      process.execPath,
      ['-e', `require(${JSON.stringify(kit)}).runService({ name: 'demo' })`],
      { env: { PATH: process.env.PATH, PORT: 'not-a-port' }, encoding: 'utf8', timeout: 20000 },
    );
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^demo: invalid configuration: /);
    expect(lines[0]).toContain('INTERNAL_TOKEN_SECRET is required');
    expect(lines[0]).toContain('PORT: expected a number, got "not-a-port"');
  });

  describe('secrets from files (<NAME>_FILE) and passwords apart from their URL', () => {
    let dir: string;
    const file = (name: string, content: string) => {
      const p = path.join(dir, name);
      writeFileSync(p, content);
      return p;
    };
    const problemsOf = (fn: () => unknown): string => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'kit-config-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('when X_FILE names a file, then X is its trimmed content, for base and service variables alike', () => {
      const config = loadConfig(
        { ADMIN_PASSWORD: z.string().min(10) },
        {
          INTERNAL_TOKEN_SECRET_FILE: file('token', `${'s'.repeat(40)}\n`),
          ADMIN_PASSWORD_FILE: file('admin', '  admin-password-1\n'),
        },
      );
      expect(config.INTERNAL_TOKEN_SECRET).toBe('s'.repeat(40));
      expect(config.ADMIN_PASSWORD).toBe('admin-password-1');
    });

    it('when both X and X_FILE are set, then X wins and the file is not read', () => {
      const config = loadConfig(undefined, {
        INTERNAL_TOKEN_SECRET: 'p'.repeat(32),
        INTERNAL_TOKEN_SECRET_FILE: path.join(dir, 'does-not-exist'),
      });
      expect(config.INTERNAL_TOKEN_SECRET).toBe('p'.repeat(32));
      // An empty X counts as not set (a `X=` line in .env): the file is used.
      const fromFile = loadConfig(undefined, {
        INTERNAL_TOKEN_SECRET: '',
        INTERNAL_TOKEN_SECRET_FILE: file('token', 'f'.repeat(32)),
      });
      expect(fromFile.INTERNAL_TOKEN_SECRET).toBe('f'.repeat(32));
    });

    it('when X_FILE is missing, unreadable or empty, then one error names each variable and the file', () => {
      const unreadable = file('unreadable', 'x'.repeat(32));
      chmodSync(unreadable, 0o000);
      const message = problemsOf(() =>
        loadConfig(
          { ADMIN_PASSWORD: z.string(), SLACK_SECRET: z.string() },
          {
            INTERNAL_TOKEN_SECRET_FILE: path.join(dir, 'missing'),
            ADMIN_PASSWORD_FILE: file('empty', ' \n'),
            SLACK_SECRET_FILE: dir, // a folder, not a file
            PORT: 'eighty',
          },
        ),
      );
      expect(message).toContain(
        `INTERNAL_TOKEN_SECRET_FILE: cannot read ${path.join(dir, 'missing')} (ENOENT)`,
      );
      expect(message).toContain(`ADMIN_PASSWORD_FILE: ${path.join(dir, 'empty')} is empty`);
      expect(message).toContain(`SLACK_SECRET_FILE: cannot read ${dir} (EISDIR)`);
      expect(message).toContain('PORT: expected a number');
      // The file's problem is the one reported, not a second "is required" for the same variable.
      expect(message).not.toContain('INTERNAL_TOKEN_SECRET is required');
      // root reads any file whatever its mode: only check EACCES where permissions apply.
      if (process.getuid?.() !== 0) {
        expect(problemsOf(() => loadConfig(undefined, { INTERNAL_TOKEN_SECRET_FILE: unreadable }))).toContain(
          `INTERNAL_TOKEN_SECRET_FILE: cannot read ${unreadable} (EACCES)`,
        );
      }
    });

    it('when DATABASE_PASSWORD and REDIS_PASSWORD come apart, then they are put into the URLs, encoded', () => {
      const awkward = 'p@ss:w/rd?#%20 ü';
      const config = loadConfig(undefined, {
        ...good,
        DATABASE_URL: 'postgres://member@postgres:5432/member',
        DATABASE_PASSWORD_FILE: file('db', `${awkward}\n`),
        REDIS_URL: 'redis://redis:6379',
        REDIS_PASSWORD: awkward,
      });
      // What pg itself makes of the URL: the same user, host, database and the password as given.
      const pg = new Client({ connectionString: config.DATABASE_URL });
      expect([pg.user, pg.password, pg.host, pg.port, pg.database]).toEqual([
        'member',
        awkward,
        'postgres',
        5432,
        'member',
      ]);
      const redis = new URL(config.REDIS_URL!);
      expect([redis.username, decodeURIComponent(redis.password), redis.host]).toEqual([
        '',
        awkward,
        'redis:6379',
      ]);
    });

    it('when a password is given twice or without its URL, then the error says so', () => {
      expect(
        problemsOf(() =>
          loadConfig(undefined, {
            ...good,
            DATABASE_URL: 'postgres://member:inline@postgres/member',
            DATABASE_PASSWORD: 'apart',
            REDIS_PASSWORD: 'orphan',
          }),
        ),
      ).toBe(
        'invalid configuration: DATABASE_PASSWORD is set and DATABASE_URL has a password too: give it in one place; ' +
          'REDIS_PASSWORD is set but REDIS_URL is not',
      );
    });
  });
});
