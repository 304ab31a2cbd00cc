import { readFileSync } from 'node:fs';

/**
 * The `*_FILE` convention of the official postgres and redis images (and of Docker/Kubernetes secrets):
 * for any variable X the config knows, `X_FILE` names a file whose trimmed content is X. X given
 * directly wins (the file is then not read), so a value pinned in the environment overrides a mounted
 * secret. A missing, unreadable or empty file is a problem naming `X_FILE`.
 */
export function readSecretFiles(
  names: readonly string[],
  env: Record<string, string | undefined>,
): { env: Record<string, string | undefined>; problems: Map<string, string> } {
  const out = { ...env };
  const problems = new Map<string, string>();
  for (const name of names) {
    const file = env[`${name}_FILE`];
    if (!file || (env[name] !== undefined && env[name] !== '')) continue;
    try {
      const value = readFileSync(file, 'utf8').trim();
      if (value === '') problems.set(name, `${name}_FILE: ${file} is empty`);
      else out[name] = value;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      problems.set(name, `${name}_FILE: cannot read ${file} (${code})`);
    }
  }
  return { env: out, problems };
}

/**
 * DATABASE_PASSWORD / REDIS_PASSWORD given apart from their URL (e.g. from a secret file) are put into
 * it, percent-encoded, so the URL itself can live in plain configuration and any character is allowed.
 */
export function withPasswords<C extends PasswordConfig>(config: C): { config: C; problems: string[] } {
  const problems: string[] = [];
  const out = { ...config };
  for (const [urlKey, passwordKey] of [
    ['DATABASE_URL', 'DATABASE_PASSWORD'],
    ['REDIS_URL', 'REDIS_PASSWORD'],
  ] as const) {
    const password = config[passwordKey];
    if (password === undefined) continue;
    const url = config[urlKey];
    if (url === undefined) {
      problems.push(`${passwordKey} is set but ${urlKey} is not`);
      continue;
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      problems.push(`${urlKey}: not a URL`);
      continue;
    }
    if (parsed.password) {
      problems.push(`${passwordKey} is set and ${urlKey} has a password too: give it in one place`);
      continue;
    }
    // Redis authenticates the default user with a password only: the URL's user stays empty.
    parsed.password = encodeURIComponent(password);
    out[urlKey] = parsed.toString();
  }
  return { config: out, problems };
}

interface PasswordConfig {
  DATABASE_URL?: string | undefined;
  DATABASE_PASSWORD?: string | undefined;
  REDIS_URL?: string | undefined;
  REDIS_PASSWORD?: string | undefined;
}
