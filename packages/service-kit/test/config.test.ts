import { spawnSync } from 'node:child_process';
import path from 'node:path';
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
});
