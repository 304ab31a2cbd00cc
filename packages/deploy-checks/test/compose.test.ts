import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';

// The promises docs/deployment.md makes about docker-compose.yml (Compose and Swarm) and
// docker-compose.override.yml (what only Compose reads), checked on the files themselves.
const root = path.resolve(__dirname, '..', '..', '..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
const load = (file: string): Doc => parse(read(file), { merge: true });

const COMPOSE_FILES = [
  'docker-compose.yml',
  'docker-compose.override.yml',
  'infra/compose/kibana-port.yml',
  'infra/compose/jaeger-port.yml',
  'infra/smoke/compose.yml',
  'infra/smoke/swarm.yml',
];
const base = load('docker-compose.yml');
const override = load('docker-compose.override.yml');
const services: Record<string, Doc> = base.services;
/** What Compose runs: each service of the base file with the override's keys on top. */
const merged: Record<string, Doc> = Object.fromEntries(
  [...new Set([...Object.keys(services), ...Object.keys(override.services)])].map((n) => [
    n,
    { ...services[n], ...override.services[n] },
  ]),
);

/** Folders under services/ with a main (the services that ship as images). */
const serviceFolders = readdirSync(path.join(root, 'services')).filter((name) =>
  existsSync(path.join(root, 'services', name, 'src', 'main.ts')),
);
const ONE_SHOT = 'secrets';
const nodeServices = Object.keys(services).filter((n) => services[n]!.build !== undefined && n !== ONE_SHOT);
const longRunning = Object.keys(services).filter((n) => n !== ONE_SHOT);
const SCALABLE = ['member', 'product', 'purchase'];
const OPTIONAL = ['logging', 'slack-bot', 'elasticsearch', 'kibana', 'jaeger'];

const envOf = (name: string): Record<string, string> => services[name]!.environment ?? {};
/** The secrets one-shot's grants: consumer → the secrets it gets (its command's '<consumer>: …' arguments). */
const grants: Map<string, string[]> = new Map(
  (services[ONE_SHOT]!.command as string[])
    .filter((arg) => /^[a-z0-9-]+:/.test(arg))
    .map((arg) => {
      const [consumer, list] = arg.split(':') as [string, string];
      return [consumer, list.trim().split(/\s+/)];
    }),
);

describe('docker-compose.yml and docker-compose.override.yml', () => {
  it('validate against the Compose Specification schema (the copy dclint ships)', () => {
    // dclint ships compose-spec/compose-spec's schema/compose-spec.json unchanged (docs/deployment.md).
    const dclint = path.dirname(require.resolve('dclint/package.json'));
    const schema = JSON.parse(readFileSync(path.join(dclint, 'schemas', 'compose.schema.json'), 'utf8'));
    expect(schema.title).toBe('Compose Specification');
    // Draft-07, named by its https address, which Ajv knows under the http one: the same meta-schema.
    expect(schema.$schema).toMatch(/json-schema\.org\/draft-07\/schema/);
    delete schema.$schema;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    for (const file of COMPOSE_FILES) {
      const ok = validate(load(file));
      expect({ file, errors: ok ? [] : validate.errors }).toEqual({ file, errors: [] });
    }
    // The validator does reject: a service with an unknown key and a bad restart policy type.
    expect(validate({ services: { x: { image: 'a', restart_when: 'never', ports: 'nope' } } })).toBe(false);
  });

  it('stay valid for docker-compose 1.29, Compose v2 and the docker CLI stack loader', () => {
    for (const file of COMPOSE_FILES) {
      const doc = load(file);
      const yamlOnly = read(file).replace(/#.*$/gm, '');
      expect({ file, name: doc.name, version: doc.version }).toEqual({ file });
      expect({ file, startInterval: /start_interval/.test(yamlOnly) }).toEqual({
        file,
        startInterval: false,
      });
      for (const [name, svc] of Object.entries(doc.services as Record<string, Doc>)) {
        if (svc.profiles !== undefined)
          expect({ file, name, profiles: svc.profiles.length > 0 }).toMatchObject({ profiles: true });
        for (const f of svc.env_file ?? []) expect(typeof f).toBe('string');
        // depends_on: only `condition` (no `restart`, no `required`).
        for (const dep of Object.values(svc.depends_on ?? {}) as Doc[])
          expect(Object.keys(dep)).toEqual(['condition']);
        // `docker stack deploy` forbids mem_limit (deploy.resources instead, which Compose applies too).
        expect({ file, name, mem_limit: svc.mem_limit }).toEqual({ file, name });
      }
    }
    // What `docker stack deploy` rejects (depends_on conditions, profiles) or silently ignores (the tmpfs
    // key: a read-only task would have no /tmp) stays out of the file it reads.
    for (const [name, svc] of Object.entries(services)) {
      expect({ name, depends_on: svc.depends_on, profiles: svc.profiles, tmpfs: svc.tmpfs }).toEqual({
        name,
      });
    }
  });

  it('runs every service folder that has a main, each built from the one Dockerfile', () => {
    expect(serviceFolders.length).toBeGreaterThanOrEqual(5);
    for (const name of serviceFolders) {
      expect({ name, build: services[name]?.build, image: services[name]?.image }).toEqual({
        name,
        build: { context: '.', args: { SERVICE: name } },
        image: `msa/${name}:\${IMAGE_TAG:-dev}`,
      });
    }
  });

  it('publishes ports on the gateway only, on the host (no routing mesh on Swarm), and names no container', () => {
    const publishing = Object.keys(merged).filter((name) => (merged[name]!.ports ?? []).length > 0);
    expect(publishing).toEqual(['gateway']);
    expect(services.gateway!.ports.map((p: Doc) => [p.target, p.mode])).toEqual([
      [8443, 'host'],
      [8081, 'host'],
    ]);
    for (const [name, svc] of Object.entries(merged))
      expect({ name, container_name: (svc as Doc).container_name }).toEqual({ name });
  });

  it('puts the gateway alone on public, and keeps private and data internal', () => {
    expect(base.networks.private.internal).toBe(true);
    expect(base.networks.data.internal).toBe(true);
    expect(base.networks.public.internal).toBeFalsy();
    const onPublic = Object.keys(services).filter((name) =>
      (services[name]!.networks ?? []).includes('public'),
    );
    expect(onPublic).toEqual(['gateway']);
    expect(services.gateway!.networks).not.toContain('data');
    for (const name of ['postgres', 'redis']) expect(services[name]!.networks).toEqual(['data']);
    expect(override.services.elasticsearch.networks).toEqual(['data']);
    for (const name of nodeServices) expect(services[name]!.networks).toContain('private');
    // The one-shot needs no network at all.
    expect(services[ONE_SHOT]!.network_mode).toBe('none');
  });

  it('gives every long-running service a healthcheck, a memory limit, a restart policy and rotated logs', () => {
    for (const name of [...longRunning, 'elasticsearch', 'kibana', 'jaeger']) {
      const svc = merged[name]!;
      expect({
        name,
        healthcheck: Array.isArray(svc.healthcheck?.test),
        memory: typeof svc.deploy?.resources?.limits?.memory,
        restart: svc.restart,
        logging: svc.logging?.options?.['max-size'] !== undefined,
        cap_drop: svc.cap_drop,
      }).toEqual({
        name,
        healthcheck: true,
        memory: 'string',
        restart: 'unless-stopped',
        logging: true,
        cap_drop: ['ALL'],
      });
    }
    // The one-shot runs once: no restart by Compose, no healthcheck to wait for, Swarm retries a failure only.
    expect(services[ONE_SHOT]).toMatchObject({
      restart: 'no',
      healthcheck: { disable: true },
      read_only: true,
      cap_drop: ['ALL'],
      deploy: { restart_policy: { condition: 'on-failure' } },
    });
  });

  it('runs the Node services, Postgres and Redis read-only with a tmpfs /tmp, the Node ones without capabilities', () => {
    for (const name of [...nodeServices, 'postgres', 'redis']) {
      const tmp = (services[name]!.volumes as (string | Doc)[]).find(
        (v) => typeof v !== 'string' && v.target === '/tmp',
      );
      expect({ name, read_only: services[name]!.read_only, tmp }).toEqual({
        name,
        read_only: true,
        tmp: { type: 'tmpfs', target: '/tmp', tmpfs: { size: expect.any(Number) } },
      });
    }
    for (const name of nodeServices) expect(services[name]!.cap_add).toBeUndefined();
  });

  it('on Swarm: DNS round robin everywhere, start-first rolling updates but for the gateway and the data', () => {
    for (const name of longRunning)
      expect({ name, mode: services[name]!.deploy.endpoint_mode }).toEqual({ name, mode: 'dnsrr' });
    for (const name of nodeServices.filter((n) => n !== 'gateway')) {
      expect({ name, order: services[name]!.deploy.update_config?.order }).toEqual({
        name,
        order: 'start-first',
      });
    }
    // Host ports cannot be held by two tasks; two Postgres or Redis on one volume corrupt it.
    expect(services.gateway!.deploy.update_config.order).toBe('stop-first');
    expect(services.gateway!.deploy.placement.max_replicas_per_node).toBe(1);
    for (const name of ['postgres', 'redis'])
      expect(services[name]!.deploy.update_config?.order).not.toBe('start-first');
  });

  it('starts (Compose) after the secrets, and only on real dependencies once they are healthy', () => {
    const deps: Record<string, Doc> = Object.fromEntries(
      Object.entries(override.services as Record<string, Doc>).map(([n, s]) => [n, s.depends_on ?? {}]),
    );
    for (const name of longRunning) {
      expect({ name, secrets: deps[name]?.[ONE_SHOT] }).toEqual({
        name,
        secrets: { condition: 'service_completed_successfully' },
      });
      for (const [dep, spec] of Object.entries(deps[name] ?? {})) {
        expect({ name, dep, optional: OPTIONAL.includes(dep) }).toEqual({ name, dep, optional: false });
        if (dep !== ONE_SHOT) expect(spec).toEqual({ condition: 'service_healthy' });
      }
    }
    for (const name of SCALABLE) expect(Object.keys(deps[name]!)).toContain('distributor');
    for (const name of ['elasticsearch', 'kibana', 'jaeger']) expect(deps[name]).toEqual({});
  });

  it('hands each container only its own secrets, as files, and no secret value in any environment', () => {
    // Each consumer mounts only its own volume, read-only, at /run/secrets; the one-shot mounts them all.
    for (const [consumer, secrets] of grants) {
      expect(services[consumer]!.volumes).toContain(`${consumer}-secrets:/run/secrets:ro`);
      expect(services[ONE_SHOT]!.volumes).toContain(`${consumer}-secrets:/secrets/${consumer}`);
      const others = [...grants.keys()].filter((c) => c !== consumer).map((c) => `${c}-secrets:`);
      for (const v of services[consumer]!.volumes)
        if (typeof v === 'string') expect(others.some((o) => v.startsWith(o))).toBe(false);
      // Every *_FILE the consumer reads names one of its own secrets.
      for (const [key, value] of Object.entries(envOf(consumer)).filter(([k]) => k.endsWith('_FILE'))) {
        if (key.startsWith('TLS_')) continue; // the gateway's own certificate, if you mount one
        expect({
          consumer,
          key,
          granted: secrets.includes(path.basename(value)) && path.dirname(value) === '/run/secrets',
        }).toEqual({
          consumer,
          key,
          granted: true,
        });
      }
      // Each secret can be pinned from the environment or .env: its name in capitals.
      for (const secret of secrets.filter((s) => !s.includes('.'))) {
        const pin = secret.toUpperCase().replaceAll('-', '_');
        expect(envOf(ONE_SHOT)[pin]).toBe(`\${${pin}:-}`);
      }
    }
    for (const name of nodeServices) expect(grants.get(name)).toContain('internal-token-secret');
    expect(grants.get('postgres')!.at(-1)).toBe('postgres-password'); // last: see the one-shot's comment
    // Passwords apart from the URLs: no credentials in any URL, no secret-looking variable with a value.
    for (const [name, svc] of Object.entries(merged)) {
      if (name === ONE_SHOT) continue;
      for (const [key, value] of Object.entries((svc.environment ?? {}) as Record<string, string>)) {
        expect({ name, key, credentials: /\/\/[^/@]*:[^/@]*@/.test(String(value)) }).toEqual({
          name,
          key,
          credentials: false,
        });
        if (/(PASSWORD|SECRET)$/.test(key))
          expect({ name, key, value }).toEqual({ name, key, value: `\${${key}:-}` });
      }
    }
  });

  it('makes one database per service, each service pointed at its own', () => {
    const databases = envOf('postgres').SERVICE_DATABASES!.split(/\s+/);
    const withDatabase = nodeServices.filter((n) => envOf(n).DATABASE_URL);
    expect(withDatabase.sort()).toEqual([...databases].sort());
    for (const name of withDatabase) {
      expect(envOf(name).DATABASE_URL).toBe(`postgres://${name}@postgres:5432/${name}`);
      expect(envOf(name).DATABASE_PASSWORD_FILE).toBe(`/run/secrets/${name}-db-password`);
      expect(grants.get('postgres')).toContain(`${name}-db-password`);
      expect(services[name]!.networks).toContain('data');
    }
    for (const name of SCALABLE) {
      // Each replica must advertise its own address: nothing may pin one for all of them.
      expect(envOf(name).ADVERTISE_URL).toBeUndefined();
      expect(envOf(name).HOST).toBeUndefined();
    }
    expect(envOf('gateway').REDIS_URL).toBeUndefined();
    // The demo catalogue is on unless switched off.
    expect(envOf('product').SEED_CATALOG).toBe('${SEED_CATALOG:-true}');
  });

  it("satisfies every service's own config schema with the secrets the one-shot makes and no .env", () => {
    // Run the one-shot on this machine into a folder per consumer, point every *_FILE there, and resolve
    // ${…} with an empty environment, as a fresh clone's `docker compose up` does.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'compose-secrets-'));
    try {
      for (const consumer of grants.keys()) mkdirSync(path.join(dir, consumer));
      const args = (services[ONE_SHOT]!.command as string[]).slice(1);
      const script = path.join(root, 'infra', 'secrets', path.basename(args[0]!));
      execFileSync(process.execPath, [script, ...args.slice(1)], {
        env: { SECRETS_ROOT: dir },
        stdio: 'pipe',
      });
      const resolve = (value: unknown): string =>
        String(value).replace(
          /\$\{([A-Z0-9_]+)(:?[-?])?([^}]*)\}/g,
          (_m, _name, op?: string, arg?: string) => {
            if (op?.endsWith('?')) throw new Error(`${_name} is required: ${arg}`);
            return op ? (arg ?? '') : '';
          },
        );
      const dockerfile = read('Dockerfile');
      const imageEnv = Object.fromEntries(
        [...dockerfile.matchAll(/\b(NODE_ENV|HOST|PORT|DATA_DIR)=(\S+)/g)].map((m) => [m[1], m[2]]),
      );
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { loadConfig } = require('@msa/service-kit');
      for (const name of nodeServices) {
        const env: Record<string, string> = { ...imageEnv };
        for (const [k, v] of Object.entries(envOf(name))) {
          const value = resolve(v);
          env[k] =
            k.endsWith('_FILE') && value.startsWith('/run/secrets/')
              ? path.join(dir, name, path.basename(value))
              : value;
        }
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { service } = require(path.join(root, 'services', name, 'dist', 'service.js'));
        let problem: string | null = null;
        let config: Doc = {};
        try {
          config = loadConfig(service.config, env);
        } catch (err) {
          problem = (err as Error).message;
        }
        expect({ name, problem }).toEqual({ name, problem: null });
        expect(config.INTERNAL_TOKEN_SECRET).toBe(
          readFileSync(path.join(dir, 'gateway', 'internal-token-secret'), 'utf8'),
        );
        if (config.DATABASE_URL) expect(new URL(config.DATABASE_URL).password).toMatch(/^[0-9a-f]{32}$/);
        if (config.REDIS_URL) expect(new URL(config.REDIS_URL).password).toMatch(/^[0-9a-f]{32}$/);
      }
      // Redis reads the same password from its config file.
      expect(readFileSync(path.join(dir, 'redis', 'redis.conf'), 'utf8')).toBe(
        `requirepass ${readFileSync(path.join(dir, 'distributor', 'redis-password'), 'utf8')}\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes the settings .env shares with npm start to every Node service, under the same names', () => {
    // The same .env line changes both ways of running: npm start hands its whole environment to each service.
    for (const name of nodeServices) {
      const env = { ...envOf(name), ...merged[name]!.environment };
      expect({ name, LOG_LEVEL: env.LOG_LEVEL }).toEqual({ name, LOG_LEVEL: '${LOG_LEVEL:-info}' });
      expect({ name, SHUTDOWN_TIMEOUT_MS: env.SHUTDOWN_TIMEOUT_MS }).toEqual({
        name,
        SHUTDOWN_TIMEOUT_MS: '${SHUTDOWN_TIMEOUT_MS:-10000}',
      });
    }
  });

  it('documents every variable it reads in .env.example, secrets left empty', () => {
    const example = read('.env.example');
    const declared = new Set([...example.matchAll(/^#? ?([A-Z0-9_]+)=/gm)].map((m) => m[1]));
    const text = read('docker-compose.yml') + read('docker-compose.override.yml');
    const used = new Set([...text.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]));
    expect([...used].filter((v) => !declared.has(v))).toEqual([]);
    for (const line of example.split('\n')) {
      if (/^#? ?[A-Z_]*(PASSWORD|SECRET)=/.test(line)) expect(line).toMatch(/=$/);
    }
    // Once each, and every line commented out: copying the file changes nothing, in either mode.
    const names = [...example.matchAll(/^#? ?([A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    expect(example.split('\n').filter((line) => /^[A-Z0-9_]+=/.test(line))).toEqual([]);
  });

  // The real loaders, when they are installed: docker-compose (1.29 here, or v2 behind that name) with an
  // empty environment and no .env, and the docker CLI's stack loader on the file Swarm reads.
  // Under CI (CI=true, as .ci/run and GitHub Actions set it) a missing loader fails instead of skipping:
  // CI installs both, so a skip there would report green for a check that never ran.
  const haveCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
  (haveCompose || process.env.CI ? it : it.skip)(
    'is accepted by `docker-compose config` on a fresh clone (no .env, empty environment)',
    () => {
      if (!haveCompose)
        throw new Error('CI is set but docker-compose is not installed (.ci/run installs it)');
      const out = execFileSync('docker-compose', ['config', '--services'], {
        cwd: root,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '' },
      });
      // docker-compose 1.29 lists services under a profile too; Compose v2 only the active ones.
      const listed = out.split('\n').filter(Boolean);
      const optIn = ['kibana', 'prometheus', 'grafana', 'jaeger'];
      expect(listed.filter((s) => !optIn.includes(s)).sort()).toEqual(
        [...Object.keys(services), 'elasticsearch'].sort(),
      );
    },
  );
  if (!haveCompose) console.log('skipped `docker-compose config`: docker-compose is not installed here');

  const haveStack = spawnSync('docker', ['stack', 'config', '--help'], { encoding: 'utf8' }).status === 0;
  (haveStack || process.env.CI ? it : it.skip)(
    'is accepted by `docker stack config -c docker-compose.yml` (the Swarm loader)',
    () => {
      if (!haveStack) throw new Error('CI is set but the docker CLI is not installed (.ci/run installs it)');
      const result = spawnSync('docker', ['stack', 'config', '-c', 'docker-compose.yml'], {
        cwd: root,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir() },
      });
      expect({ status: result.status, stderr: result.stderr.trim() }).toEqual({ status: 0, stderr: '' });
      const merged = parse(result.stdout);
      expect(Object.keys(merged.services).sort()).toEqual(Object.keys(services).sort());
      // The loader does reject what the override holds (so it must stay there).
      const rejected = spawnSync(
        'docker',
        ['stack', 'config', '-c', 'docker-compose.yml', '-c', 'docker-compose.override.yml'],
        {
          cwd: root,
          encoding: 'utf8',
          env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir() },
        },
      );
      expect(rejected.status).not.toBe(0);
    },
  );
  if (!haveStack) console.log('skipped `docker stack config`: the docker CLI is not installed here');
});
