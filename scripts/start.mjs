#!/usr/bin/env node
// `npm start` (and `npm run dev`, which adds --watch): install what is missing, build what changed (turbo
// caches the rest), then run the local runner with the same arguments. Plain Node, no dependencies: it runs
// before there are any.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureInstalled } from './ensure-installed.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

try {
  ensureInstalled(root);
} catch (err) {
  console.error(err.message);
  process.exit(1);
}

const args = process.argv.slice(2);
const build = spawnSync(turbo(), ['run', 'build', '--output-logs=errors-only', ...buildFilters(args)], {
  cwd: root,
  stdio: 'inherit',
  shell: process.platform === 'win32',
});
if (build.error || build.status !== 0) {
  console.error(
    `The build failed${build.error ? ` (${build.error.message})` : ''}: fix the errors above, then run ` +
      `${args.includes('--watch') ? 'npm run dev' : 'npm start'} again.`,
  );
  process.exit(1);
}

// The runner runs in this process rather than a child of it: one Node process less to keep resident
// (some 40 MB, docs/performance.md). It reads the same arguments from process.argv and handles the
// signals itself; its exit code is ours.
await import(pathToFileURL(path.join(root, 'packages', 'runner', 'dist', 'cli.js')).href);

// The local turbo, not npx: nothing is downloaded, and the version is the one in the lockfile.
function turbo() {
  return path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'turbo.cmd' : 'turbo');
}

/** Build only what will run: with --only, those services (and what they depend on); for --help, the runner. */
function buildFilters(argv) {
  if (argv.includes('--help') || argv.includes('-h')) return ['--filter=@msa/runner'];
  const at = argv.findIndex((arg) => arg === '--only' || arg.startsWith('--only='));
  if (at === -1) return [];
  const list = argv[at].startsWith('--only=') ? argv[at].slice('--only='.length) : (argv[at + 1] ?? '');
  const names = [
    'runner',
    'distributor',
    ...list
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  ];
  // Unknown names are left to the runner, which says which services there are.
  const exists = (name) =>
    existsSync(path.join(root, 'services', name, 'package.json')) ||
    existsSync(path.join(root, 'packages', name, 'package.json'));
  return names.filter(exists).map((name) => `--filter=@msa/${name}`);
}
