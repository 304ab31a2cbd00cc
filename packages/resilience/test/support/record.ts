// Every test writes the figures it measured here; `npm run reliability-report` turns them into
// docs/reliability.md. One file per setup (real servers or embedded defaults), rewritten entry by entry.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR, setupName, type Results, type ResultEntry } from '../../src/results';

export function record(entry: ResultEntry): void {
  const setup = setupName(process.env);
  const file = path.join(RESULTS_DIR, `${setup.key}.json`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const results: Results = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Results)
    : { setup: setup.label, node: process.version, entries: [] };
  results.setup = setup.label;
  results.node = process.version;
  results.updatedAt = new Date().toISOString();
  results.entries = results.entries.filter((e) => !(e.kind === entry.kind && e.name === entry.name));
  results.entries.push(entry);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
}
