import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';

export interface EnvWithFile {
  /** The environment the system runs with: the file's variables under the real environment's. */
  env: NodeJS.ProcessEnv;
  /** The file read, if there was one. */
  file?: string;
  /** The names taken from the file (those the real environment did not set already). */
  fromFile: string[];
}

/**
 * `<rootDir>/.env`, the file Docker Compose reads, under the given environment: a variable set in the
 * environment wins over the file, as with Compose. Node's own parser (`util.parseEnv`, the one behind
 * `node --env-file` and `process.loadEnvFile`): NAME=value lines, # comments, quotes; no ${VAR}
 * interpolation, which Compose would do, so .env.example uses none. The environment object is not changed.
 */
export function withEnvFile(rootDir: string, env: NodeJS.ProcessEnv = process.env): EnvWithFile {
  const file = path.join(rootDir, '.env');
  if (!existsSync(file)) return { env, fromFile: [] };
  const parsed = parseEnv(readFileSync(file, 'utf8'));
  const fromFile = Object.keys(parsed).filter((name) => env[name] === undefined);
  return { env: { ...parsed, ...env }, file, fromFile };
}
