#!/usr/bin/env node
// `npm run migration:new -w @msa/<service> -- <name>`: creates the service's next migration file,
// migrations/<NNN>_<name>.sql, numbered one past the highest there, and prints its path.
// (npm runs a workspace's script in that workspace's folder, so the folder is ./migrations.)
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const USAGE = 'usage: npm run migration:new -w @msa/<service> -- <name>   (e.g. add_phone_to_members)';

function fail(message, code = 1) {
  console.error(message);
  process.exit(code);
}

const words = process.argv.slice(2);
if (words.length === 0 || words.includes('--help') || words.includes('-h')) fail(USAGE, 2);
// "Add phone" and add-phone both become add_phone: file names stay one plain word.
const name = words
  .join('_')
  .toLowerCase()
  .replace(/[^a-z0-9]+/g, '_')
  .replace(/^_+|_+$/g, '');
if (!/^[a-z][a-z0-9_]{0,59}$/.test(name)) {
  fail(
    `"${words.join(' ')}" is not a migration name: start with a letter; letters, digits and _ only\n${USAGE}`,
    2,
  );
}

const dir = path.resolve(process.env.MIGRATIONS_DIR ?? 'migrations');
if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
const numbered = readdirSync(dir)
  .map((f) => /^(\d+)_.*\.sql$/.exec(f))
  .filter((m) => m !== null);
const next = Math.max(0, ...numbered.map((m) => Number(m[1]))) + 1;
const width = Math.max(3, ...numbered.map((m) => m[1].length));
const file = path.join(dir, `${String(next).padStart(width, '0')}_${name}.sql`);

writeFileSync(
  file,
  `-- ${path.basename(file, '.sql')}: what this changes, and why.\n` +
    '-- Applied once at start-up, in file-name order, in one transaction with the others. Once applied,\n' +
    '-- never edit it (its sha256 is recorded and a changed file stops the service): add a new one instead.\n\n',
  { flag: 'wx' },
);
console.log(path.relative(process.cwd(), file));
