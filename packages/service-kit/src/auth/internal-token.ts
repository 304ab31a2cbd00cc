import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Caller } from '../log/request-context';

export const INTERNAL_TOKEN_HEADER = 'x-internal-token';
const AUDIENCE = 'msa-internal';
const LIFETIME_S = 60;

export interface InternalClaims {
  /** The calling service. */
  iss: string;
  /** A member id, when the call is made on behalf of a signed-in member. */
  sub?: string;
  role?: 'customer' | 'admin';
  exp: number;
}

export class InvalidInternalToken extends Error {}

/**
 * Short-lived tokens that prove a call comes from inside the system: HS256 with the deployment's
 * shared secret, 60 s lifetime. Verified tokens are cached until they expire, because the same
 * gateway token arrives on many requests and a MAC check per request is wasted work.
 */
export class InternalTokens {
  private readonly key: Uint8Array;
  private readonly verified = new LRUCache<string, InternalClaims>({ max: 10000, ttlAutopurge: false });
  private readonly signed = new LRUCache<string, string>({ max: 10000 });

  constructor(
    private readonly issuer: string,
    secret: string,
    private readonly lifetimeS = LIFETIME_S,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  /** A token for an outgoing call; reused for half its lifetime so signing is not per request. */
  async sign(claims: { sub?: string; role?: string } = {}): Promise<string> {
    const cacheKey = `${claims.sub ?? ''}|${claims.role ?? ''}`;
    const cached = this.signed.get(cacheKey);
    if (cached) return cached;
    let jwt = new SignJWT(claims.role ? { role: claims.role } : {})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.lifetimeS}s`);
    if (claims.sub) jwt = jwt.setSubject(claims.sub);
    const token = await jwt.sign(this.key);
    this.signed.set(cacheKey, token, { ttl: (this.lifetimeS * 1000) / 2 });
    return token;
  }

  async verify(token: string): Promise<InternalClaims> {
    const hit = this.verified.get(token);
    if (hit) {
      if (hit.exp * 1000 > Date.now()) return hit;
      this.verified.delete(token);
    }
    try {
      const { payload } = await jwtVerify(token, this.key, { audience: AUDIENCE, algorithms: ['HS256'] });
      if (typeof payload.iss !== 'string' || typeof payload.exp !== 'number') {
        throw new InvalidInternalToken('token lacks iss or exp');
      }
      const role = payload.role === 'admin' || payload.role === 'customer' ? payload.role : undefined;
      const claims: InternalClaims = { iss: payload.iss, exp: payload.exp, sub: payload.sub, role };
      this.verified.set(token, claims, { ttl: Math.max(1, claims.exp * 1000 - Date.now()) });
      return claims;
    } catch (err) {
      if (err instanceof InvalidInternalToken) throw err;
      const reason = err instanceof joseErrors.JWTExpired ? 'expired' : 'invalid';
      throw new InvalidInternalToken(`internal token ${reason}`);
    }
  }
}

export function callerFromClaims(claims: InternalClaims): Caller {
  return claims.sub
    ? { service: claims.iss, user: { id: claims.sub, role: claims.role ?? 'customer' } }
    : { service: claims.iss };
}
