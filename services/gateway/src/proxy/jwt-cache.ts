import {
  createLocalJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose';
import { LRUCache } from 'lru-cache';
import type { Revocations } from './revocations';

export interface MemberClaims {
  sub: string;
  role: 'customer' | 'admin';
  /** The member's token version when it was signed (0 for tokens without the claim); see revocations.ts. */
  ver: number;
}

/** The member service's keys could not be had: the token is neither good nor bad yet (503, not 401). */
export class KeysUnavailableError extends Error {}
export class InvalidTokenError extends Error {}

export interface JwtVerifierOptions {
  /** Fetches the member service's JWKS (through the kit's internal client in production). */
  fetchJwks: () => Promise<JSONWebKeySet>;
  issuer?: string;
  audience?: string;
  /** An unknown `kid` refetches the key set at most this often. */
  refetchMs?: number;
  /** After a failed fetch, how long requests get 503 before the next try. */
  retryFailedFetchMs?: number;
  maxEntries?: number;
  /** Revoked tokens (unregistered members, changed passwords), checked on every hit; none when not given. */
  revocations?: Revocations;
  /** How long a new token waits for the revocation state to be first loaded before it is answered 503. */
  revocationsLoadMs?: number;
}

const MAX_TOKEN_LENGTH = 4096;

type KeyGetter = ReturnType<typeof createLocalJWKSet>;

/**
 * ES256 member tokens, verified once and then served from a bounded cache keyed by the token itself, each entry
 * living until the token's `exp` (what Envoy's JWT cache does). A cache hit is a synchronous map lookup: the
 * 75–130 µs signature check is paid once per token, not per request. Tokens that failed are remembered briefly, so
 * replaying a forged token costs a lookup too. A revoked token (its `ver` below its member's current version) is
 * refused on every hit, by one more Map lookup, however long it stays in the cache.
 */
export class JwtVerifier {
  private readonly good: LRUCache<string, MemberClaims>;
  private readonly bad: LRUCache<string, true>;
  private readonly pending = new Map<string, Promise<MemberClaims>>();
  private keys: KeyGetter | null = null;
  private fetchedAt = -Infinity;
  private failedAt = -Infinity;
  private fetching: Promise<KeyGetter> | null = null;
  private readonly refetchMs: number;
  private readonly retryFailedFetchMs: number;
  private readonly revocations: Revocations | null;

  constructor(private readonly opts: JwtVerifierOptions) {
    const max = opts.maxEntries ?? 10000;
    this.good = new LRUCache({ max });
    this.bad = new LRUCache({ max: Math.max(100, max / 10), ttl: 5000 });
    this.refetchMs = opts.refetchMs ?? 5000;
    this.retryFailedFetchMs = opts.retryFailedFetchMs ?? 1000;
    this.revocations = opts.revocations ?? null;
  }

  /** Claims of a token verified before; null when known bad; undefined when it must be verified. */
  cached(token: string): MemberClaims | null | undefined {
    if (token.length > MAX_TOKEN_LENGTH) return null; // no member token is this long; do not cache giants
    const hit = this.good.get(token);
    if (hit !== undefined)
      return this.revocations !== null && this.revocations.isRevoked(hit.sub, hit.ver) ? null : hit;
    return this.bad.has(token) ? null : undefined;
  }

  /** Verifies a token (concurrent calls for one token share one check). Throws InvalidToken or KeysUnavailable. */
  verify(token: string): Promise<MemberClaims> {
    let p = this.pending.get(token);
    if (p === undefined) {
      p = this.check(token).finally(() => this.pending.delete(token));
      this.pending.set(token, p);
    }
    return p;
  }

  private async check(token: string): Promise<MemberClaims> {
    const revocations = this.revocations;
    // Fail closed until the gateway knows what is revoked (just started, member not heard from yet): a token that
    // was revoked before this replica started must not slip through in its first moments.
    if (revocations !== null && !(await revocations.whenLoaded(this.opts.revocationsLoadMs ?? 2000))) {
      throw new KeysUnavailableError('revoked member tokens are not known yet');
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.getKey, {
        algorithms: ['ES256'],
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      if (err instanceof KeysUnavailableError) throw err;
      this.bad.set(token, true);
      throw new InvalidTokenError(err instanceof Error ? err.message : 'invalid token');
    }
    const ttl = payload.exp! * 1000 - Date.now();
    if (typeof payload.sub !== 'string' || payload.sub === '' || ttl <= 0) {
      this.bad.set(token, true);
      throw new InvalidTokenError('token has no subject or has expired');
    }
    const ver = typeof payload.ver === 'number' && Number.isInteger(payload.ver) ? payload.ver : 0;
    const claims: MemberClaims = {
      sub: payload.sub,
      role: payload.role === 'admin' ? 'admin' : 'customer',
      ver,
    };
    // Cached even when revoked: a later hit is refused by the revocation lookup, without a signature check.
    this.good.set(token, claims, { ttl });
    if (revocations?.isRevoked(claims.sub, claims.ver))
      throw new InvalidTokenError('the token has been revoked');
    return claims;
  }

  private readonly getKey = async (...args: Parameters<KeyGetter>): ReturnType<KeyGetter> => {
    const keys = this.keys ?? (await this.load());
    try {
      return await keys(...args);
    } catch (err) {
      // A key we do not know yet (member rotated its keys): refetch, but not more than once per refetchMs.
      if (
        !(err instanceof joseErrors.JWKSNoMatchingKey) ||
        performance.now() - this.fetchedAt < this.refetchMs
      ) {
        throw err;
      }
      return (await this.load())(...args);
    }
  };

  private load(): Promise<KeyGetter> {
    if (this.fetching !== null) return this.fetching;
    if (performance.now() - this.failedAt < this.retryFailedFetchMs) {
      return Promise.reject(new KeysUnavailableError('member keys could not be fetched'));
    }
    this.fetching = this.opts
      .fetchJwks()
      .then((jwks) => {
        if (!jwks || !Array.isArray(jwks.keys)) throw new Error('the answer is not a JWKS');
        this.keys = createLocalJWKSet(jwks);
        this.fetchedAt = performance.now();
        return this.keys;
      })
      .catch((err: unknown) => {
        this.failedAt = performance.now();
        throw new KeysUnavailableError(
          `member keys could not be fetched: ${err instanceof Error ? err.message : String(err)}`,
        );
      })
      .finally(() => {
        this.fetching = null;
      });
    return this.fetching;
  }
}
