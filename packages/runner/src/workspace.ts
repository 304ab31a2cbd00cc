import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';

/** One npm workspace package of the repository: a service or a library such as the service kit. */
export interface WorkspacePackage {
  /** The package name, e.g. @msa/service-kit. */
  name: string;
  /** Its folder, symlinks resolved (a build must see the real paths its tsconfig is relative to). */
  dir: string;
  /** services/<name> (true) or packages/<name>. */
  isService: boolean;
  /** The folder name; for a service also its registry name. */
  folder: string;
  /**
   * The workspace packages it runs with: its `dependencies` among them. devDependencies are left out: a
   * service's tests may use another service (purchase's use product), its running code does not.
   */
  localDependencies: string[];
}

/** Every packages/* and services/* folder with a package.json under rootDir. */
export function readWorkspace(rootDir: string): WorkspacePackage[] {
  const found: Omit<WorkspacePackage, 'localDependencies'>[] = [];
  const declared = new Map<string, string[]>();
  for (const [parent, isService] of [
    ['packages', false],
    ['services', true],
  ] as const) {
    const dir = path.join(rootDir, parent);
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir).sort()) {
      const manifest = path.join(dir, entry, 'package.json');
      if (!existsSync(manifest)) continue;
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as {
        name?: string;
        dependencies?: Record<string, string>;
      };
      const name = pkg.name ?? entry;
      found.push({ name, dir: realpathSync(path.join(dir, entry)), isService, folder: entry });
      declared.set(name, Object.keys(pkg.dependencies ?? {}));
    }
  }
  const names = new Set(found.map((p) => p.name));
  return found.map((p) => ({ ...p, localDependencies: declared.get(p.name)!.filter((d) => names.has(d)) }));
}

/**
 * What has to be rebuilt, in order, when these packages changed: each of them and every package that
 * depends on one of them (transitively), libraries before the packages that use them.
 */
export function rebuildOrder(workspace: WorkspacePackage[], changed: Iterable<string>): WorkspacePackage[] {
  const byName = new Map(workspace.map((p) => [p.name, p]));
  const affected = new Set<string>();
  const visit = (name: string): void => {
    if (affected.has(name) || !byName.has(name)) return;
    affected.add(name);
    for (const p of workspace) if (p.localDependencies.includes(name)) visit(p.name);
  };
  for (const name of changed) visit(name);
  // Depth-first: a package comes after everything it depends on (a cycle is broken where it is met).
  const ordered: WorkspacePackage[] = [];
  const placed = new Set<string>();
  const place = (name: string, path: Set<string>): void => {
    if (placed.has(name) || path.has(name) || !affected.has(name)) return;
    path.add(name);
    for (const dep of byName.get(name)!.localDependencies) place(dep, path);
    path.delete(name);
    placed.add(name);
    ordered.push(byName.get(name)!);
  };
  for (const p of workspace) place(p.name, new Set());
  return ordered;
}
