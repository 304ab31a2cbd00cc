/**
 * Revoked member tokens, as the gateway knows them: per member, the lowest token version still valid (the member
 * service raises a member's version on unregister and on a password change; a token carries the version it was
 * signed with as its `ver` claim). One Map lookup per request, on the verified-token cache's hit path.
 *
 * An entry is needed only while a token signed before the revocation can still be unexpired, so each is dropped
 * `rememberMs` after it was last raised (the member service says how long: a token lifetime plus clock slack).
 */
export class Revocations {
  private readonly minVersion = new Map<string, { ver: number; keepUntil: number }>();
  private readonly sweep: NodeJS.Timeout;
  private loaded = false;
  private readonly waiting = new Set<() => void>();

  constructor(private rememberMs = 65 * 60_000) {
    this.sweep = setInterval(() => this.prune(Date.now()), 60_000).unref();
  }

  /** True when a token of `sub` signed with version `ver` is revoked. */
  isRevoked(sub: string, ver: number): boolean {
    const entry = this.minVersion.get(sub);
    return entry !== undefined && ver < entry.ver;
  }

  /** Tokens of `sub` below `ver` are revoked (versions only go up: an older, lower message changes nothing). */
  revoke(sub: string, ver: number, now = Date.now()): void {
    const entry = this.minVersion.get(sub);
    if (entry === undefined || entry.ver < ver)
      this.minVersion.set(sub, { ver, keepUntil: now + this.rememberMs });
  }

  /** A snapshot from the member service: everything revoked within its remember window. */
  load(list: { sub: string; ver: number }[], rememberMs: number | undefined, now = Date.now()): void {
    if (rememberMs !== undefined && rememberMs > 0) this.rememberMs = rememberMs;
    for (const r of list) this.revoke(r.sub, r.ver, now);
    this.markLoaded();
  }

  /** The state is known (a snapshot arrived, or member instances answered that they revoke nothing). */
  markLoaded(): void {
    if (this.loaded) return;
    this.loaded = true;
    for (const resolve of this.waiting) resolve();
    this.waiting.clear();
  }

  get isLoaded(): boolean {
    return this.loaded;
  }

  /** Resolves true once loaded, or false after `timeoutMs` without it. */
  whenLoaded(timeoutMs: number): Promise<boolean> {
    if (this.loaded) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiting.delete(done);
        resolve(false);
      }, timeoutMs);
      this.waiting.add(done);
    });
  }

  get size(): number {
    return this.minVersion.size;
  }

  prune(now: number): void {
    for (const [sub, entry] of this.minVersion) if (entry.keepUntil <= now) this.minVersion.delete(sub);
  }

  close(): void {
    clearInterval(this.sweep);
  }
}
