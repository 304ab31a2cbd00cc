import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';

// The invariants of docker-compose.yml that docs/deployment.md promises, checked on the file itself.
const root = path.resolve(__dirname, '..', '..', '..');
const composeText = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const compose: any = parse(composeText, { merge: true });
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const services: Record<string, any> = compose.services;

/** Folders under services/ with a main (the services that ship as images). */
const serviceFolders = readdirSync(path.join(root, 'services')).filter((name) =>
  existsSync(path.join(root, 'services', name, 'src', 'main.ts')),
);
const nodeServices = Object.keys(services).filter((name) => services[name].build !== undefined);
const SCALABLE = ['member', 'product', 'purchase'];

const envOf = (name: string): Record<string, string> => services[name].environment ?? {};

describe('docker-compose.yml', () => {
  it('stays valid for docker-compose 1.29 and Compose v2', () => {
    expect(compose.name).toBeUndefined();
    expect(compose.version).toBeUndefined();
    const yamlOnly = composeText.replace(/#.*$/gm, '');
    expect(yamlOnly).not.toMatch(/start_interval/);
    for (const [name, svc] of Object.entries(services)) {
      if (svc.profiles !== undefined)
        expect({ name, profiles: svc.profiles.length > 0 }).toEqual({ name, profiles: true });
      if (Array.isArray(svc.env_file)) for (const f of svc.env_file) expect(typeof f).toBe('string');
      // depends_on: only `condition` (no `restart`, no `required`).
      for (const dep of Object.values(svc.depends_on ?? {}) as Record<string, unknown>[]) {
        expect(Object.keys(dep)).toEqual(['condition']);
      }
    }
  });

  it('runs every service folder that has a main, each built from the one Dockerfile', () => {
    expect(serviceFolders.length).toBeGreaterThanOrEqual(5);
    for (const name of serviceFolders) {
      expect({ name, build: services[name]?.build }).toEqual({
        name,
        build: { context: '.', args: { SERVICE: name } },
      });
    }
  });

  it('publishes ports on the gateway only, and names no container', () => {
    const publishing = Object.keys(services).filter((name) => (services[name].ports ?? []).length > 0);
    expect(publishing).toEqual(['gateway']);
    for (const [name, svc] of Object.entries(services))
      expect({ name, container_name: svc.container_name }).toEqual({ name });
  });

  it('puts the gateway alone on public, and keeps private and data internal', () => {
    expect(compose.networks.private.internal).toBe(true);
    expect(compose.networks.data.internal).toBe(true);
    expect(compose.networks.public.internal).toBeFalsy();
    const onPublic = Object.keys(services).filter((name) =>
      (services[name].networks ?? []).includes('public'),
    );
    expect(onPublic).toEqual(['gateway']);
    expect(services.gateway.networks).not.toContain('data');
    for (const name of ['postgres', 'redis', 'elasticsearch'])
      expect(services[name].networks).toEqual(['data']);
    for (const name of nodeServices) expect(services[name].networks).toContain('private');
  });

  it('gives every service a healthcheck, a memory limit, a restart policy and rotated logs', () => {
    for (const [name, svc] of Object.entries(services)) {
      const summary = {
        name,
        healthcheck: Array.isArray(svc.healthcheck?.test),
        mem_limit: typeof svc.mem_limit,
        restart: svc.restart,
        logging: svc.logging?.options?.['max-size'] !== undefined,
        cap_drop: svc.cap_drop,
      };
      expect(summary).toEqual({
        name,
        healthcheck: true,
        mem_limit: 'string',
        restart: 'unless-stopped',
        logging: true,
        cap_drop: ['ALL'],
      });
    }
  });

  it('runs the Node services read-only with a tmpfs, without capabilities', () => {
    for (const name of [...nodeServices, 'postgres', 'redis']) {
      expect({ name, read_only: services[name].read_only, tmpfs: services[name].tmpfs?.[0] }).toEqual({
        name,
        read_only: true,
        tmpfs: expect.stringMatching(/^\/tmp/),
      });
    }
    for (const name of nodeServices) expect(services[name].cap_add).toBeUndefined();
  });

  it('depends only on real dependencies, and waits for them to be healthy', () => {
    const optional = ['logging', 'slack-bot', 'elasticsearch', 'kibana'];
    for (const [name, svc] of Object.entries(services)) {
      for (const [dep, spec] of Object.entries(svc.depends_on ?? {})) {
        expect({ name, dep, optional: optional.includes(dep) }).toEqual({ name, dep, optional: false });
        expect(spec).toEqual({ condition: 'service_healthy' });
      }
    }
    for (const name of SCALABLE) expect(Object.keys(services[name].depends_on)).toContain('distributor');
  });

  it('sets every variable a service requires, and points it at its own database', () => {
    for (const name of nodeServices) {
      const env = envOf(name);
      expect({ name, secret: env.INTERNAL_TOKEN_SECRET }).toEqual({
        name,
        secret: expect.stringMatching(/^\$\{INTERNAL_TOKEN_SECRET:\?/),
      });
      expect(env.NODE_ENV).toBe('production');
      if (name !== 'distributor') expect(env.DISTRIBUTOR_URL).toBe('http://distributor:8080');
    }
    expect(envOf('member').ADMIN_PASSWORD).toMatch(/^\$\{ADMIN_PASSWORD:\?/);
    for (const name of SCALABLE) {
      expect(envOf(name).DATABASE_URL).toMatch(
        new RegExp(`^postgres://${name}:\\$\\{[A-Z_]+:\\?[^}]*\\}@postgres:5432/${name}$`),
      );
      expect(services[name].networks).toContain('data');
      // Each replica must advertise its own address: nothing may pin one for all of them.
      expect(envOf(name).ADVERTISE_URL).toBeUndefined();
      expect(envOf(name).HOST).toBeUndefined();
    }
    expect(envOf('gateway').REDIS_URL).toBeUndefined();
  });

  it("satisfies every service's own config schema with the example settings", () => {
    // The env each container gets: the image's ENV, then compose's environment with ${…} resolved from a
    // generated .env (example settings + secrets), as docker-compose would.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'compose-env-'));
    const envFile = path.join(dir, '.env');
    execFileSync(path.join(root, 'infra', 'dev-secrets.sh'), [envFile], { stdio: 'ignore' });
    const dotenv = Object.fromEntries(
      readFileSync(envFile, 'utf8')
        .split('\n')
        .filter((l) => /^[A-Z0-9_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    rmSync(dir, { recursive: true, force: true });
    const resolve = (value: unknown): string =>
      String(value).replace(
        /\$\{([A-Z0-9_]+)(:?[-?])?([^}]*)\}/g,
        (_m, name: string, op?: string, arg?: string) => {
          const v = dotenv[name];
          if (op === ':-') return v ? v : (arg ?? '');
          if (op === '-') return v ?? arg ?? '';
          if (op?.endsWith('?') && !v) throw new Error(`${name} is required: ${arg}`);
          return v ?? '';
        },
      );
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const imageEnv = Object.fromEntries(
      [...dockerfile.matchAll(/\b(NODE_ENV|HOST|PORT|DATA_DIR)=(\S+)/g)].map((m) => [m[1], m[2]]),
    );
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { loadConfig } = require('@msa/service-kit');
    for (const name of nodeServices) {
      const env = {
        ...imageEnv,
        ...Object.fromEntries(Object.entries(envOf(name)).map(([k, v]) => [k, resolve(v)])),
      };
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { service } = require(path.join(root, 'services', name, 'dist', 'service.js'));
      let problem: string | null = null;
      try {
        loadConfig(service.config, env);
      } catch (err) {
        problem = (err as Error).message;
      }
      expect({ name, problem }).toEqual({ name, problem: null });
    }
    // member's production rule (outside its schema): an admin password.
    expect(resolve(envOf('member').ADMIN_PASSWORD).length).toBeGreaterThanOrEqual(10);
  });

  it('documents every variable it reads in .env.example', () => {
    const example = readFileSync(path.join(root, '.env.example'), 'utf8');
    const declared = new Set([...example.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]));
    const used = new Set([...composeText.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]));
    expect([...used].filter((v) => !declared.has(v))).toEqual([]);
    // Secrets stay empty in the committed example.
    for (const line of example.split('\n')) {
      if (/^[A-Z_]*(PASSWORD|SECRET)=/.test(line)) expect(line).toMatch(/=$/);
    }
  });

  const composeBin = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
  const haveCompose = composeBin.status === 0;
  (haveCompose ? it : it.skip)('is accepted by `docker-compose config` with the example settings', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'compose-config-'));
    try {
      const envFile = path.join(dir, '.env');
      execFileSync(path.join(root, 'infra', 'dev-secrets.sh'), [envFile], { stdio: 'ignore' });
      const out = execFileSync(
        'docker-compose',
        ['--env-file', envFile, '-f', 'docker-compose.yml', 'config', '--services'],
        {
          cwd: root,
          encoding: 'utf8',
          env: { PATH: process.env.PATH ?? '' },
        },
      );
      // docker-compose 1.29 lists services under a profile too; Compose v2 only the active ones.
      const listed = out.split('\n').filter(Boolean);
      expect(listed.filter((s) => s !== 'kibana').sort()).toEqual(
        Object.keys(services)
          .filter((s) => s !== 'kibana')
          .sort(),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  if (!haveCompose) console.log('skipped `docker-compose config`: docker-compose is not installed here');
});
