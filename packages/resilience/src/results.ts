import path from 'node:path';

/** Where the tests leave their figures (git-ignored): one JSON file per setup. */
export const RESULTS_DIR = path.join(__dirname, '..', '.results');

export interface FaultEntry {
  kind: 'fault';
  name: string;
  /** e.g. "30 req/s × 4 s (mixed reads and buys)". */
  load: string;
  sent: number;
  /** Requests that failed by the test's own measure (named in `failedMeans`). */
  failed: number;
  failedMeans: string;
  /** Stock changes lost or doubled: |initial − (current + completed)| summed over products. */
  dataLost: number;
  /** From the fault to full service again (ms), as the test measured it. */
  recoveryMs: number | null;
  notes?: string;
}

export interface InputEntry {
  kind: 'input';
  name: string;
  cases: number;
  /** Answers that broke the rule (not a 4xx JSON error, or a changed row). */
  violations: number;
  notes?: string;
  /** A check over the cases of the other rows (not counted again in the total). */
  overAll?: boolean;
}

export interface SecurityEntry {
  kind: 'security';
  name: string;
  cases: number;
  violations: number;
  notes?: string;
}

export type ResultEntry = FaultEntry | InputEntry | SecurityEntry;

export interface Results {
  setup: string;
  node: string;
  updatedAt?: string;
  entries: ResultEntry[];
}

export function setupName(env: NodeJS.ProcessEnv): { key: string; label: string } {
  const pg = Boolean(env.DATABASE_URL);
  const redis = Boolean(env.REDIS_URL);
  if (pg && redis) return { key: 'real', label: 'real Postgres + Redis (DATABASE_URL, REDIS_URL)' };
  if (!pg && !redis) return { key: 'embedded', label: 'embedded defaults (PGlite, in-memory cache)' };
  return {
    key: pg ? 'postgres-only' : 'redis-only',
    label: pg ? 'real Postgres, no Redis' : 'PGlite + real Redis',
  };
}
