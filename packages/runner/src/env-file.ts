import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';

export interface EnvWithFile {
  /** The environment the system runs with: the file's variables under the real environment's. */
  env: NodeJS.ProcessEnv;
  /** The file read, if there was one. */
  file?: string;
  /** The names taken from the file (set there to a value, and not already in the environment). */
  fromFile: string[];
}

/**
 * `<rootDir>/.env`, the file Docker Compose reads, under the given environment: a variable set in the
 * environment wins over the file, as with Compose; one set to nothing in the file is left out. Node's own parser (`util.parseEnv`, the one behind
 * `node --env-file` and `process.loadEnvFile`): NAME=value lines, # comments, quotes; no ${VAR}
 * interpolation, which Compose would do, so .env.example uses none. The environment object is not changed.
 */
export function withEnvFile(rootDir: string, env: NodeJS.ProcessEnv = process.env): EnvWithFile {
  const file = path.join(rootDir, '.env');
  if (!existsSync(file)) return { env, fromFile: [] };
  const parsed = parseEnv(readFileSync(file, 'utf8'));
  // `NAME=` means "the default" here as in docker-compose.yml, which reads every such variable as
  // ${NAME:-default}; passed on as '', it would be a value (RATE_LIMIT_POINTS='' is 0: no rate limit).
  const fromFile = Object.keys(parsed)
    .filter((name) => parsed[name] !== '' && env[name] === undefined)
    .sort();
  const added = Object.fromEntries(fromFile.map((name) => [name, parsed[name]]));
  return { env: { ...env, ...added }, file, fromFile };
}
