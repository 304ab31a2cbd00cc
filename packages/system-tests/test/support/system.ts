// The real, built services as processes on loopback, started through the local runner (packages/runner).
// Each test file starts one system in beforeAll and stops it in afterAll; the runner's startIsolatedSystem
// gives it a temporary root, databases and Redis keys of its own, and removes them all on stop.
import path from 'node:path';
import { startIsolatedSystem, type RunningSystem } from '@msa/runner';
import { InternalTokens } from '@msa/service-kit';

export const SERVICES_DIR = path.resolve(__dirname, '..', '..', '..', '..', 'services');

/** The registry lease the systems here run with: short, so that a lost instance is dropped in a second. */
export const LEASE_MS = 1000;

export interface TestSystem {
  system: RunningSystem;
  gatewayUrl: string;
  /** The gateway's admin listener (metrics, internal routes); never the URL above. */
  gatewayAdminUrl: string;
  distributorUrl: string;
  /** What the runner gave the children (and what a second distributor needs to join them). */
  env: NodeJS.ProcessEnv;
  /** An internal token as a service of this deployment would sign it. */
  internalToken(iss?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface TestSystemOptions {
  only: string[];
  scale?: Record<string, number>;
  env?: Record<string, string>;
  /** The services/ folder to run (default this checkout's). */
  servicesDir?: string;
}

export async function startTestSystem(options: TestSystemOptions): Promise<TestSystem> {
  const { system, env, stop } = await startIsolatedSystem({
    name: 'systest',
    servicesDir: options.servicesDir ?? SERVICES_DIR,
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      REGISTRY_LEASE_MS: String(LEASE_MS),
      // Rate limiting has its own tests; here it would only turn a bounded load into 429s.
      RATE_LIMIT_POINTS: '0',
      SHUTDOWN_TIMEOUT_MS: '3000',
      ...options.env,
    },
    only: options.only,
    scale: options.scale,
    quiet: true,
    startTimeoutMs: 60_000,
    stopTimeoutMs: 5000,
  });
  const tokens = new Map<string, InternalTokens>();
  return {
    system,
    gatewayUrl: system.gatewayUrl!,
    gatewayAdminUrl: system.gatewayAdminUrl!,
    distributorUrl: system.distributorUrl!,
    env,
    internalToken(iss = 'system-tests') {
      let signer = tokens.get(iss);
      if (!signer) tokens.set(iss, (signer = new InternalTokens(iss, system.internalTokenSecret)));
      return signer.sign();
    },
    stop,
  };
}
