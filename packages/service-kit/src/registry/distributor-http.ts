import { INTERNAL_TOKEN_HEADER, type InternalTokens } from '../auth/internal-token';

/**
 * Calls to the distributor. Several distributor URLs may be configured (replicas); a failed call
 * moves on to the next one, so a lost replica costs one attempt, not an outage.
 */
export class DistributorHttp {
  private current = 0;

  constructor(
    readonly urls: string[],
    private readonly tokens: InternalTokens,
    private readonly timeoutMs = 2000,
  ) {}

  get baseUrl(): string {
    return this.urls[this.current % this.urls.length] as string;
  }

  /** Moves to the next replica after a failure. */
  rotate(): void {
    this.current = (this.current + 1) % this.urls.length;
  }

  async headers(): Promise<Record<string, string>> {
    return { [INTERNAL_TOKEN_HEADER]: await this.tokens.sign(), 'content-type': 'application/json' };
  }

  async call(method: string, path: string, body?: unknown): Promise<{ status: number; data: unknown }> {
    try {
      const res = await fetch(this.baseUrl + path, {
        method,
        headers: await this.headers(),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await res.text();
      return { status: res.status, data: text ? JSON.parse(text) : undefined };
    } catch (err) {
      this.rotate();
      throw err;
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** Exponential backoff with jitter, so a fleet of instances does not retry in lockstep. */
export function backoff(attempt: number, baseMs = 250, maxMs = 5000): number {
  const ms = Math.min(maxMs, baseMs * 2 ** attempt);
  return ms / 2 + Math.random() * (ms / 2);
}
