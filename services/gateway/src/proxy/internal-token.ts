import { decodeJwt } from 'jose';
import { LRUCache } from 'lru-cache';
import type { MemberClaims } from './jwt-cache';

export interface TokenSigner {
  sign(claims?: { sub?: string; role?: string }): Promise<string>;
}

interface Entry {
  token: string;
  freshUntil: number;
}

/**
 * The internal token the gateway forwards (`x-internal-token`), signed once per user (and once for anonymous
 * callers) and reused for the first half of its lifetime, so signing is not a per-request cost. Upstreams thus see
 * a token with at least half its life left.
 */
export class InternalTokens {
  private readonly cache: LRUCache<string, Entry>;
  private readonly pending = new Map<string, Promise<string>>();

  constructor(
    private readonly signer: TokenSigner,
    maxUsers = 10000,
  ) {
    this.cache = new LRUCache({ max: maxUsers });
  }

  /** A fresh cached token, or undefined when one must be signed (see `sign`). */
  get(user: MemberClaims | null): string | undefined {
    const e = this.cache.get(user === null ? '' : user.sub + '\n' + user.role);
    return e !== undefined && e.freshUntil > Date.now() ? e.token : undefined;
  }

  sign(user: MemberClaims | null): Promise<string> {
    const key = user === null ? '' : user.sub + '\n' + user.role;
    let p = this.pending.get(key);
    if (p === undefined) {
      p = this.signer
        .sign(user === null ? {} : { sub: user.sub, role: user.role })
        .then((token) => {
          const now = Date.now();
          const exp = decodeJwt(token).exp;
          const life = exp !== undefined ? exp * 1000 - now : 0;
          this.cache.set(key, { token, freshUntil: now + life / 2 });
          return token;
        })
        .finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }
}
