import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { databaseNameFor, ensureDatabase, redact, withDatabase } from '../src/databases';
import { createEmbeddedPostgres } from '../src/embedded-postgres';
import { defaultRestartPolicy, type SupervisedProcess } from '../src/process';

describe('one database per service on a real server', () => {
  test('when a service is named, then its database is <prefix>_<service> with underscores', () => {
    expect(databaseNameFor('member')).toBe('msa_member');
    expect(databaseNameFor('slack-bot')).toBe('msa_slack_bot');
    expect(databaseNameFor('member', 'ci_42')).toBe('ci_42_member');
    expect(() => databaseNameFor('member', 'Bad Prefix')).toThrow(
      '"Bad Prefix_member" is not a usable database name',
    );
  });

  test('when the server URL names a database, then the service URL names its own instead', () => {
    expect(withDatabase('postgres://u:p@db:5432/postgres?sslmode=disable', 'msa_member')).toBe(
      'postgres://u:p@db:5432/msa_member?sslmode=disable',
    );
    expect(redact('postgres://u:secret@db/postgres')).toBe('postgres://u:***@db/postgres');
  });

  describe('on the server DATABASE_URL names, or an embedded one', () => {
    let serverUrl: string;
    let embedded: SupervisedProcess | undefined;
    let dataDir: string | undefined;
    beforeAll(async () => {
      if (process.env.DATABASE_URL) {
        serverUrl = process.env.DATABASE_URL;
        return;
      }
      dataDir = mkdtempSync(path.join(tmpdir(), 'msa-pglite-'));
      embedded = createEmbeddedPostgres({ service: 'server', dataDir, restart: defaultRestartPolicy });
      serverUrl = (await embedded.start()).url!;
    });
    afterAll(async () => {
      await embedded?.stop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    test('when the database is missing, then it is created, and asking again changes nothing', async () => {
      const name = databaseNameFor('member', `runner_${process.pid}_${Date.now()}`);
      const url = await ensureDatabase(serverUrl, name);
      expect(await ensureDatabase(serverUrl, name)).toBe(url);

      expect(url).toBe(withDatabase(serverUrl, name));
      // Checked in the catalogue: PGlite serves one database whatever name a client asks for.
      const admin = new Client({ connectionString: serverUrl });
      await admin.connect();
      const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      expect(found.rowCount).toBe(1);
      await admin.query(`DROP DATABASE "${name}"`);
      await admin.end();
    });
  });

  test('when the server cannot be reached, then the error names the URL without its password', async () => {
    await expect(ensureDatabase('postgres://u:secret@127.0.0.1:1/postgres', 'msa_member')).rejects.toThrow(
      /^cannot reach DATABASE_URL \(postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/postgres\): .*ECONNREFUSED/,
    );
  });
});
