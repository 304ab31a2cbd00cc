import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { withEnvFile } from '../src/env-file';

let root: string;
beforeEach(() => (root = mkdtempSync(path.join(tmpdir(), 'msa-envfile-'))));
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('the .env file npm start shares with Compose', () => {
  test('when there is none, then the environment is used as it is', () => {
    const env = { PATH: '/bin' };
    expect(withEnvFile(root, env)).toEqual({ env, fromFile: [] });
  });

  test('when it sets variables, then they are added (comments and quotes read as Compose does, empty ones left out), and the environment wins', () => {
    writeFileSync(
      path.join(root, '.env'),
      [
        '# a comment',
        'LOG_LEVEL=debug',
        'RATE_LIMIT_POINTS=0',
        'ADMIN_EMAIL="boss@example.test"',
        "SLACK_WEBHOOK_URL='https://hooks.example/a#b'",
        'TLS_CERT_FILE=',
        'RATE_LIMIT_WINDOW_S=',
        '',
      ].join('\n'),
    );
    const given = { PATH: '/bin', RATE_LIMIT_POINTS: '100' };
    const { env, file, fromFile } = withEnvFile(root, given);

    expect(file).toBe(path.join(root, '.env'));
    expect(env).toEqual({
      PATH: '/bin',
      LOG_LEVEL: 'debug',
      RATE_LIMIT_POINTS: '100',
      ADMIN_EMAIL: 'boss@example.test',
      SLACK_WEBHOOK_URL: 'https://hooks.example/a#b',
    });
    // NAME= is "the default", as Compose reads ${NAME:-default}: not passed on as ''.
    expect(fromFile).toEqual(['ADMIN_EMAIL', 'LOG_LEVEL', 'SLACK_WEBHOOK_URL']);
    expect(given).toEqual({ PATH: '/bin', RATE_LIMIT_POINTS: '100' }); // not changed
  });
});
