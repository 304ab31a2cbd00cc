import { parseArgs } from 'node:util';
import { UsageError } from './services';

export interface CliOptions {
  scale: Record<string, number>;
  only?: string[];
  help: boolean;
  prettyLogs: boolean;
  rootDir?: string;
  watch: boolean;
}

export const usage = `Usage: npm start -- [options]     npm run dev -- [options]

Starts every service in services/ as local processes on embedded defaults
(PGlite for Postgres, in-memory cache), the distributor first. npm run dev
(--watch) then rebuilds and replaces a service when its src/ changes.

Options:
  --scale <service>=<n>  run n instances of a service, each on a free port (repeatable)
  --only <a,b,...>       start only these services (the distributor always starts)
  --json-logs            show the services' log lines as the JSON they write
  --root <dir>           the repository whose services/ to run (default: this checkout)
  --watch                watch the running services' src/ and the libraries they use:
                         rebuild (tsc) and replace the instances of what changed
  --help                 show this text

Environment (also read from <root>/.env, the file Docker Compose reads; the
environment wins over it; .env.example lists every variable):
  DATABASE_URL           a Postgres server: each service gets its own database msa_<service> on it
  REDIS_URL              a Redis server for caches, rate limits and the registry
  INTERNAL_TOKEN_SECRET  the services' shared secret (random per run when unset)
  LOG_LEVEL              the services' log level (info)
  DISTRIBUTOR_PORT       the distributor's port (9000)
  GATEWAY_HTTP_PORT      the gateway's plain HTTP port (8080)
  GATEWAY_HTTPS_PORT     the gateway's HTTPS port (8443)
  GATEWAY_ADMIN_PORT     the gateway's admin port on 127.0.0.1: /metrics, /internal/* (9080)
  EMBEDDED_DB_PROCESSES  one (every embedded database in one process) or per-service
  EMBEDDED_DB_SETTINGS   the embedded engines' Postgres settings, name=value,… (default
                         shared_buffers=8MB,maintenance_work_mem=16MB; stock: PGlite's own)

Ctrl-C stops everything (a second Ctrl-C kills at once).
`;

export function parseCliArgs(argv: string[]): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        scale: { type: 'string', multiple: true },
        only: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        'json-logs': { type: 'boolean' },
        root: { type: 'string' },
        watch: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const scale: Record<string, number> = {};
  for (const item of values.scale ?? []) {
    const match = /^([a-z][a-z0-9-]*)=(\d+)$/.exec(item);
    if (!match) throw new UsageError(`--scale ${item}: expected <service>=<count>, e.g. --scale purchase=3`);
    scale[match[1]!] = Number(match[2]);
  }
  const only = values.only
    ?.split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (values.only !== undefined && only?.length === 0) throw new UsageError('--only needs service names');
  return {
    scale,
    only,
    help: values.help ?? false,
    prettyLogs: !values['json-logs'],
    rootDir: values.root,
    watch: values.watch ?? false,
  };
}
