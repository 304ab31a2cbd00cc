#!/usr/bin/env node
// Installs the dependencies when they are missing or older than package-lock.json, so that the
// first command on a fresh clone (`npm start`, `npm test`) is really the only one. Plain Node,
// no dependencies: it runs before there are any.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const defaultRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Why an install is needed, or undefined when node_modules is up to date. */
export function installReason(root = defaultRoot) {
  const modules = path.join(root, 'node_modules');
  if (!existsSync(path.join(modules, '.bin', process.platform === 'win32' ? 'turbo.cmd' : 'turbo'))) {
    return 'node_modules/.bin/turbo is missing';
  }
  const lock = path.join(root, 'package-lock.json');
  const installed = path.join(modules, '.package-lock.json');
  if (existsSync(lock)) {
    // npm writes node_modules/.package-lock.json at the end of every install; an older one means
    // package-lock.json changed since (a pull, a branch switch).
    if (!existsSync(installed)) return 'node_modules/.package-lock.json is missing';
    if (statSync(lock).mtimeMs > statSync(installed).mtimeMs)
      return 'package-lock.json is newer than node_modules';
  }
  for (const workspace of workspaces(root)) {
    if (!existsSync(path.join(modules, ...workspace.name.split('/')))) {
      return `workspace ${workspace.name} (${workspace.dir}) is not linked into node_modules`;
    }
  }
  return undefined;
}

/** The folders matched by package.json's "workspaces" (only the `dir/*` form this repo uses). */
function workspaces(root) {
  const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const found = [];
  for (const pattern of manifest.workspaces ?? []) {
    const parent = pattern.endsWith('/*') ? pattern.slice(0, -2) : undefined;
    const dirs = parent
      ? existsSync(path.join(root, parent))
        ? readdirSync(path.join(root, parent)).map((name) => path.join(parent, name))
        : []
      : [pattern];
    for (const dir of dirs) {
      const pkg = path.join(root, dir, 'package.json');
      if (!existsSync(pkg)) continue;
      const { name } = JSON.parse(readFileSync(pkg, 'utf8'));
      if (name) found.push({ name, dir });
    }
  }
  return found;
}

/** Runs npm with the same npm that runs us when there is one, so PATH does not matter. */
function npm(args, root) {
  const npmCli = process.env.npm_execpath;
  const [command, commandArgs] =
    npmCli && /npm-cli\.js$/.test(npmCli) ? [process.execPath, [npmCli, ...args]] : ['npm', args];
  return spawnSync(command, commandArgs, {
    cwd: root,
    stdio: 'inherit',
    shell: process.platform === 'win32' && command === 'npm',
  });
}

/** Returns true when it had to install; throws when installing failed. */
export function ensureInstalled(root = defaultRoot) {
  const reason = installReason(root);
  if (!reason) return false;
  const args = existsSync(path.join(root, 'package-lock.json')) ? ['ci'] : ['install'];
  console.log(`Installing dependencies (${reason}): npm ${args.join(' ')}`);
  const result = npm(args, root);
  if (result.error || result.status !== 0) {
    const why = result.error ? result.error.message : `exit code ${result.status}`;
    throw new Error(
      `npm ${args.join(' ')} failed (${why}). Fix the error above and run it again` +
        (args[0] === 'ci' ? '; if package-lock.json is out of date, run npm install.' : '.'),
    );
  }
  return true;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    ensureInstalled();
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
