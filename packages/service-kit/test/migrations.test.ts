import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { migrationChecksum, startService } from '../src';
import { createSharedTestDatabase, testEnv, type SharedTestDatabase } from '../src/testing';
import { notesService } from './fixtures/notes-service';

// The notes fixture's migrations, copied so a test may edit them; on real Postgres when DATABASE_URL is set,
// on an embedded PGlite server (kept across the service's restarts) otherwise.
describe(`migration checksums (${process.env.DATABASE_URL ? 'Postgres' : 'embedded PGlite'})`, () => {
  let db: SharedTestDatabase;
  let dir: string;
  const service = () => ({ ...notesService, database: { migrationsDir: dir } });
  const start = () => startService(service(), { env: testEnv({ DATABASE_URL: db.url }), waitReady: true });
  async function query<T>(sql: string): Promise<T[]> {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      return (await client.query(sql)).rows as T[];
    } finally {
      await client.end();
    }
  }
  const fileChecksum = (name: string) => migrationChecksum(readFileSync(path.join(dir, name), 'utf8'));

  beforeEach(async () => {
    db = await createSharedTestDatabase(4);
    dir = mkdtempSync(path.join(os.tmpdir(), 'msa-migrations-'));
    cpSync(path.join(__dirname, 'fixtures', 'migrations'), dir, { recursive: true });
  });
  afterEach(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when migrations are applied, then each one is recorded with the sha256 of its file', async () => {
    await (await start()).stop();
    expect(await query('SELECT version, checksum FROM schema_migrations ORDER BY version')).toEqual([
      { version: '001_create_notes', checksum: fileChecksum('001_create_notes.sql') },
      { version: '002_seed_notes', checksum: fileChecksum('002_seed_notes.sql') },
    ]);
    expect(fileChecksum('001_create_notes.sql')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('when an applied migration is edited, then the next start fails naming the file and applies nothing', async () => {
    await (await start()).stop();
    appendFileSync(path.join(dir, '002_seed_notes.sql'), "INSERT INTO notes (body) VALUES ('second');\n");
    writeFileSync(path.join(dir, '003_add_tags.sql'), 'ALTER TABLE notes ADD COLUMN tags text;\n');

    await expect(start()).rejects.toThrow(
      /^migration 002_seed_notes\.sql was edited after it was applied \(applied sha256 [0-9a-f]{12}…, the file now [0-9a-f]{12}…\)/,
    );
    // The newer migration waited behind the check: nothing was applied, nothing recorded.
    expect(await query('SELECT version FROM schema_migrations ORDER BY version')).toEqual([
      { version: '001_create_notes' },
      { version: '002_seed_notes' },
    ]);
    expect(
      await query(
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'notes' AND column_name = 'tags'",
      ),
    ).toEqual([]);
  });

  it('when only line endings differ (a CRLF checkout), then it is not an edit', async () => {
    await (await start()).stop();
    const file = path.join(dir, '001_create_notes.sql');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/\n/g, '\r\n'));
    await (await start()).stop();
  });

  it('when the database recorded names only (before checksums), then they are filled in and the start goes on', async () => {
    await (await start()).stop();
    await query('ALTER TABLE schema_migrations DROP COLUMN checksum');

    const svc = await start();
    try {
      expect(await query('SELECT version, checksum FROM schema_migrations ORDER BY version')).toEqual([
        { version: '001_create_notes', checksum: fileChecksum('001_create_notes.sql') },
        { version: '002_seed_notes', checksum: fileChecksum('002_seed_notes.sql') },
      ]);
      // Filled in, not re-applied: the seed row is there once.
      expect(await query('SELECT body FROM notes')).toEqual([{ body: 'first' }]);
    } finally {
      await svc.stop();
    }
  });
});
