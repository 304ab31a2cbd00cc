import { z } from 'zod';
import { readSecretFiles, withPasswords } from './secret-files';

/** Thrown when the environment does not satisfy a service's config schema. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

// An env var set to '' means "not set" for optional values, so `FOO=` in a .env file behaves like no FOO.
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

const port = z.coerce.number().int().min(0).max(65535);

/** Variables every service understands. A service adds its own with `config` in its definition. */
export const baseConfigShape = {
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(0),
  /**
   * The admin listener: metrics (and, for a client-facing service such as the gateway, its own routes) on a
   * port of their own, never shared with client traffic. Unset: none, metrics answer on PORT (a service whose
   * PORT is on the private network anyway); a client-facing service then takes a free port. 0 picks one.
   */
  ADMIN_PORT: optional(port),
  /** Where the admin listener binds: the private side (127.0.0.1 locally, the pod/container address inside). */
  ADMIN_HOST: z.string().min(1).default('127.0.0.1'),
  /** The URL at which this instance alone is reachable; derived from HOST/PORT when not set. */
  ADVERTISE_URL: optional(z.url()),
  /** Comma-separated distributor URLs; '' runs the service standalone (no registry). */
  DISTRIBUTOR_URL: z
    .string()
    .default('http://127.0.0.1:9000')
    .refine(
      (v) => v === '' || v.split(',').every((u) => URL.canParse(u.trim())),
      'must be a comma-separated list of URLs',
    ),
  INTERNAL_TOKEN_SECRET: z
    .string()
    .min(32, 'must be at least 32 characters (generate one: openssl rand -hex 32)'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** 'auto': ship log lines to the logging service when one is registered; 'off': stdout only. */
  LOG_SHIPPING: z.enum(['auto', 'off']).default('auto'),
  /** Most log lines held while the logging service cannot be reached (the oldest are dropped beyond it). */
  LOG_SHIPPING_BUFFER: z.coerce.number().int().min(100).max(1_000_000).default(10_000),
  /** Most bytes of those lines kept on disk (DATA_DIR/log-spool); beyond it the oldest are dropped. */
  LOG_SHIPPING_DISK_BYTES: z.coerce
    .number()
    .int()
    .min(1024 * 1024)
    .default(64 * 1024 * 1024),
  /** One `request` line per request that arrived with an x-request-id (one a gateway or a service sent). */
  LOG_REQUESTS: z.stringbool().default(true),
  DATABASE_URL: optional(z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')),
  PG_POOL_MAX: z.coerce.number().int().min(1).max(100).default(10),
  REDIS_URL: optional(z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL')),
  /** Passwords apart from their URL (e.g. DATABASE_PASSWORD_FILE, a mounted secret): put into the URL. */
  DATABASE_PASSWORD: optional(z.string()),
  REDIS_PASSWORD: optional(z.string()),
  /** Prefix for every Redis key and channel (lets tests, or two deployments, share one Redis). */
  REDIS_KEY_PREFIX: z.string().default('msa:'),
  /** Where embedded data lives; 'memory' keeps the embedded database in memory (tests). */
  DATA_DIR: z.string().min(1).default('.data'),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10000),
  /**
   * Node's server.headersTimeout and requestTimeout: how long a client may take over a request's headers, and
   * over the whole request (headers and body), before it is answered 408 and cut (slow-loris clients). Checked
   * every second. Keep-alive idle time does not count (that is the keep-alive timeout, 65 s).
   */
  HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1000).default(66_000),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).default(60_000),
  BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, 'like 100kb or 1mb')
    .default('100kb'),
};

export type BaseConfig = z.infer<z.ZodObject<typeof baseConfigShape>>;

export type ConfigShape = z.ZodRawShape;
export type ConfigOf<S extends ConfigShape | undefined> = BaseConfig &
  (S extends ConfigShape ? z.infer<z.ZodObject<S>> : Record<never, never>);

/**
 * Validates the environment against the base schema plus the service's own, before anything else runs.
 * Every bad variable is named in one message, so a misconfigured container fails with one clear line.
 * Any variable may instead come from a file named by `<NAME>_FILE` (secret-files.ts).
 */
export function loadConfig<S extends ConfigShape | undefined>(
  extra: S,
  rawEnv: Record<string, string | undefined> = process.env,
): ConfigOf<S> {
  const shape = { ...baseConfigShape, ...(extra ?? {}) };
  const files = readSecretFiles(Object.keys(shape), rawEnv);
  const env = files.env;
  const result = z.object(shape).safeParse(env);
  if (!result.success || files.problems.size > 0) {
    const issues = (result.error?.issues ?? []).filter((i) => !files.problems.has(String(i.path[0])));
    const problems = issues.map((issue) => {
      const name = issue.path.join('.') || '(env)';
      const missing = issue.code === 'invalid_type' && env[name] === undefined;
      if (missing) return `${name} is required`;
      if (issue.code === 'invalid_type')
        return `${name}: expected a ${issue.expected}, got ${JSON.stringify(env[name])}`;
      return `${name}: ${issue.message}`;
    });
    throw new ConfigError([...files.problems.values(), ...problems]);
  }
  const { config, problems } = withPasswords(result.data);
  if (problems.length > 0) throw new ConfigError(problems);
  return config as ConfigOf<S>;
}
