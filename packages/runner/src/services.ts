import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** The two services that listen on fixed, well-known ports; every other one takes a free port. */
export type Role = 'distributor' | 'gateway' | 'service';

export interface ServiceDef {
  /** The folder name, which is also the registry name. */
  name: string;
  dir: string;
  main: string;
  role: Role;
  /** A service with a migrations/ folder owns a database. */
  hasDatabase: boolean;
}

export interface PlannedService extends ServiceDef {
  count: number;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export const MAX_INSTANCES = 32;

/** Every `services/<name>/package.json` whose build output `dist/main.js` exists, by name. */
export function discoverServices(rootDir: string): { services: ServiceDef[]; unbuilt: string[] } {
  const servicesDir = path.join(rootDir, 'services');
  const services: ServiceDef[] = [];
  const unbuilt: string[] = [];
  const entries = existsSync(servicesDir) ? readdirSync(servicesDir, { withFileTypes: true }) : [];
  // A linked service folder counts too (the dev-mode test runs linked services beside a copied one).
  const isFolder = (e: (typeof entries)[number]) =>
    e.isDirectory() || (e.isSymbolicLink() && statSync(path.join(servicesDir, e.name)).isDirectory());
  for (const entry of entries.filter(isFolder).sort((a, b) => a.name.localeCompare(b.name))) {
    const dir = path.join(servicesDir, entry.name);
    if (!existsSync(path.join(dir, 'package.json'))) continue;
    const main = path.join(dir, 'dist', 'main.js');
    if (!existsSync(main)) {
      unbuilt.push(entry.name);
      continue;
    }
    services.push({
      name: entry.name,
      dir,
      main,
      role: entry.name === 'distributor' || entry.name === 'gateway' ? entry.name : 'service',
      hasDatabase: existsSync(path.join(dir, 'migrations')),
    });
  }
  return { services, unbuilt };
}

/**
 * Which services to start and how many of each: all of them once by default; `only` narrows the
 * set (the distributor stays in it, since everything else registers there); `scale` sets counts.
 * The distributor comes first, as it has to be up before the others register.
 */
export function planServices(
  services: ServiceDef[],
  { scale = {}, only, unbuilt = [] }: { scale?: Record<string, number>; only?: string[]; unbuilt?: string[] },
): PlannedService[] {
  const known = new Set(services.map((s) => s.name));
  const check = (name: string, flag: string): void => {
    if (known.has(name)) return;
    if (unbuilt.includes(name))
      throw new UsageError(`${flag}: ${name} has no dist/main.js yet (build it first)`);
    throw new UsageError(
      `${flag}: there is no service "${name}" (services: ${[...known].join(', ') || 'none'})`,
    );
  };
  for (const name of only ?? []) check(name, '--only');
  for (const [name, count] of Object.entries(scale)) {
    check(name, '--scale');
    if (!Number.isInteger(count) || count < 0 || count > MAX_INSTANCES) {
      throw new UsageError(
        `--scale ${name}=${count}: the count must be a whole number from 0 to ${MAX_INSTANCES}`,
      );
    }
    const role = services.find((s) => s.name === name)?.role;
    if (role !== 'service' && count > 1) {
      throw new UsageError(
        `--scale ${name}=${count}: the ${name} listens on a fixed port, so it runs once here`,
      );
    }
  }
  const wanted = only ? new Set([...only, 'distributor']) : known;
  return services
    .filter((s) => wanted.has(s.name))
    .map((s) => ({ ...s, count: scale[s.name] ?? 1 }))
    .filter((s) => s.count > 0)
    .sort((a, b) => Number(b.role === 'distributor') - Number(a.role === 'distributor'));
}
