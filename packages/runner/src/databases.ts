import { Client } from 'pg';

/**
 * On a real Postgres server (DATABASE_URL set) every service with migrations gets its own
 * database, `<prefix>_<service>` with hyphens turned into underscores (`msa_member`, `msa_product`),
 * on the server and with the credentials DATABASE_URL names; the database in DATABASE_URL itself
 * is only used to create the others. The prefix keeps them apart from other databases there.
 */
export function databaseNameFor(service: string, prefix = 'msa'): string {
  const name = `${prefix}_${service}`.replace(/-/g, '_');
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`"${name}" is not a usable database name`);
  return name;
}

export function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

const DUPLICATE_DATABASE = '42P04';
// Two runners creating the same database at once collide on pg_database's unique index.
const UNIQUE_VIOLATION = '23505';

/** Creates the database when it is missing and returns its URL. */
export async function ensureDatabase(serverUrl: string, database: string): Promise<string> {
  const client = new Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`cannot reach DATABASE_URL (${redact(serverUrl)}): ${(err as Error).message}`);
  }
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) {
      try {
        // The name is checked by databaseNameFor; identifiers cannot be bound as parameters.
        await client.query(`CREATE DATABASE "${database}"`);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code !== DUPLICATE_DATABASE && code !== UNIQUE_VIOLATION) throw err;
      }
    }
  } finally {
    await client.end();
  }
  return withDatabase(serverUrl, database);
}

export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}
