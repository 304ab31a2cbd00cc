// The `secrets` one-shot of docker-compose.yml (baked into every service image by the Dockerfile):
// random secrets, made once per deployment, each handed only to the containers that need it.
//
//   node make-secrets.mjs 'postgres: member-db-password postgres-password' 'member: member-db-password' …
//
// Each `<consumer>: <secret> …` argument is one container's grant. Its volume is mounted here at
// /secrets/<consumer> and, read-only, in that container at /run/secrets — the path of Docker and
// Kubernetes secrets — where the service reads `<NAME>_FILE=/run/secrets/<secret>`.
// A secret's value is, in order: pinned in this job's environment (the secret's name upper-cased, dashes
// as underscores: member-db-password ← MEMBER_DB_PASSWORD), else the value an earlier run left in any
// consumer's folder (so a second `up` keeps every secret, and Postgres the passwords it was initialised
// with), else new random bytes. Values are never printed.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = process.env.SECRETS_ROOT ?? '/secrets';

/** Random length per secret: the token secret signs internal JWTs (HS256: 32 bytes at least). */
const BYTES = { 'internal-token-secret': 32 };
/** Files made from a secret rather than being one: Redis reads its password only from its config. */
const DERIVED = { 'redis.conf': (value) => `requirepass ${value('redis-password')}\n` };

function fail(message) {
  console.error(`secrets: ${message}`);
  process.exit(1);
}

const grants = process.argv.slice(2).map((arg) => {
  const match = /^([a-z0-9-]+):\s*(.*)$/.exec(arg.trim());
  if (!match) fail(`bad grant ${JSON.stringify(arg)}: expected '<consumer>: <secret> <secret> …'`);
  const secrets = match[2].split(/\s+/).filter(Boolean);
  if (secrets.some((s) => !/^[a-z0-9][a-z0-9.-]*$/.test(s)))
    fail(`bad secret name in ${JSON.stringify(arg)}`);
  return { consumer: match[1], dir: path.join(ROOT, match[1]), secrets };
});
if (grants.length === 0) fail('no grants given');
for (const { consumer, dir } of grants) {
  if (!existsSync(dir)) fail(`${consumer}: no volume mounted at ${dir}`);
}

// What earlier runs left, per secret: the values found in the consumers' folders (one, normally).
const found = new Map();
for (const { dir } of grants) {
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.') || name in DERIVED) continue;
    if (!found.has(name)) found.set(name, new Set());
    found.get(name).add(readFileSync(path.join(dir, name), 'utf8'));
  }
}

const origin = new Map();
const values = new Map();
function value(name) {
  if (!values.has(name)) {
    const pin = name.toUpperCase().replaceAll('-', '_');
    const earlier = [...(found.get(name) ?? [])];
    if (process.env[pin]) {
      origin.set(name, 'pinned');
      values.set(name, process.env[pin]);
    } else if (earlier.length > 1) {
      fail(`${name} differs between the consumers' folders: pin it (${pin}) or start over (down -v)`);
    } else if (earlier.length === 1) {
      origin.set(name, 'kept');
      values.set(name, earlier[0]);
    } else {
      origin.set(name, 'made');
      values.set(name, randomBytes(BYTES[name] ?? 16).toString('hex'));
    }
  }
  return values.get(name);
}

for (const { consumer, dir, secrets } of grants) {
  // Written in the order given, each file whole (write, then rename): a consumer that starts before this
  // job ends (Swarm has no start order) finds a file complete or not at all — and Postgres's superuser
  // password, listed last, only once every database password is there.
  for (const name of secrets) {
    const content = name in DERIVED ? DERIVED[name](value) : value(name);
    const file = path.join(dir, name);
    if (existsSync(file) && readFileSync(file, 'utf8') === content) continue;
    rmSync(`${file}.tmp`, { force: true });
    writeFileSync(`${file}.tmp`, content, { mode: 0o444 });
    renameSync(`${file}.tmp`, file);
  }
  // A folder holds its grant and nothing else (a secret taken away from a consumer goes).
  for (const name of readdirSync(dir)) {
    if (!secrets.includes(name)) rmSync(path.join(dir, name), { force: true });
  }
  console.log(
    `secrets: ${consumer}: ${secrets.map((s) => `${s} (${origin.get(s) ?? 'derived'})`).join(', ')}`,
  );
}
