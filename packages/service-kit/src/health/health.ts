import type express from 'express';

export type CheckResult = 'up' | 'down' | 'degraded' | 'pending';

export interface HealthCheck {
  name: string;
  /** A required check failing makes the instance not ready; an optional one only degrades it. */
  required: boolean;
  run(): Promise<void>;
}

export interface HealthState {
  /** 'starting' until start-up is done, 'stopping' from the first shutdown signal. */
  phase: 'starting' | 'ready' | 'stopping';
  pending: string[];
}

const CHECK_TIMEOUT_MS = 1000;

async function runCheck(check: HealthCheck): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check.run(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS);
      }),
    ]);
    return 'up';
  } catch {
    return check.required ? 'down' : 'degraded';
  } finally {
    clearTimeout(timer);
  }
}

/**
 * /health/live answers while the process runs and never touches a dependency (a slow Redis must
 * not get a healthy process restarted). /health/ready runs the checks: 503 while starting, when a
 * required dependency is down, and from the moment shutdown begins.
 */
export function mountHealth(app: express.Express, state: HealthState, checks: HealthCheck[]): void {
  app.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/health/ready', async (_req, res) => {
    const results = await Promise.all(checks.map(async (c) => [c.name, await runCheck(c)] as const));
    const byName = Object.fromEntries(results);
    for (const p of state.pending) byName[p] = 'pending';
    const down = results.some(([, r]) => r === 'down');
    if (state.phase !== 'ready' || down) {
      const status =
        state.phase === 'stopping' ? 'stopping' : state.phase === 'starting' ? 'starting' : 'not-ready';
      res.status(503).json({ status, checks: byName });
      return;
    }
    const degraded = results.some(([, r]) => r === 'degraded');
    res.json({ status: degraded ? 'degraded' : 'ready', checks: byName });
  });
}
