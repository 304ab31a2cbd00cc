import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK, type KeyLike } from 'jose';
import { inTransaction } from '@msa/service-kit';
import type { Pool } from 'pg';

export const TOKEN_ISSUER = 'msa-member';
export const TOKEN_AUDIENCE = 'msa';
export const TOKEN_TTL_SECONDS = 3600;
const ALG = 'ES256';

// Serialises key creation across instances starting together on one database (distinct from the kit's migration lock).
const KEY_CREATION_LOCK = 7_204_319_101;

export interface MemberTokenClaims {
  sub: string;
  role: 'customer' | 'admin';
  email: string;
  /** The member's token_version when signed: the gateway refuses it once the member's is higher (revocation). */
  ver: number;
}

interface SigningKey {
  kid: string;
  privateKey: KeyLike | Uint8Array;
}

/**
 * The ES256 key pair member tokens are signed with. It lives in the database, created once by
 * whichever instance starts first, so every instance signs with the same key and the gateway needs
 * one JWKS.
 */
export class SigningKeys {
  private current: Promise<SigningKey> | undefined;

  constructor(private readonly db: Pool) {}

  /** Loads the signing key, creating it when the database has none yet. */
  ensure(): Promise<SigningKey> {
    this.current ??= this.loadOrCreate().catch((err) => {
      this.current = undefined; // a database hiccup at start must not poison every later login
      throw err;
    });
    return this.current;
  }

  async sign(claims: MemberTokenClaims): Promise<{ token: string; expiresIn: number }> {
    const key = await this.ensure();
    const token = await new SignJWT({ role: claims.role, email: claims.email, ver: claims.ver })
      .setProtectedHeader({ alg: ALG, kid: key.kid, typ: 'JWT' })
      .setSubject(claims.sub)
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${TOKEN_TTL_SECONDS}s`)
      .sign(key.privateKey);
    return { token, expiresIn: TOKEN_TTL_SECONDS };
  }

  /** Every public key, read from the database, so a key another instance added is published at once. */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.ensure();
    const { rows } = await this.db.query<{ public_jwk: JWK }>(
      'SELECT public_jwk FROM signing_keys ORDER BY created_at DESC, kid DESC',
    );
    return { keys: rows.map((r) => r.public_jwk) };
  }

  private async loadOrCreate(): Promise<SigningKey> {
    const existing = await this.newest();
    if (existing) return existing;

    // Generated outside the transaction to keep the lock short; a losing instance just drops its pair.
    const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
    const kid = randomUUID();
    const meta = { kid, alg: ALG, use: 'sig' };
    const privateJwk = { ...(await exportJWK(privateKey)), ...meta };
    const publicJwk = { ...(await exportJWK(publicKey)), ...meta };

    await inTransaction(this.db, async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [KEY_CREATION_LOCK]);
      await tx.query(
        `INSERT INTO signing_keys (kid, private_jwk, public_jwk)
         SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM signing_keys)`,
        [kid, privateJwk, publicJwk],
      );
    });
    const created = await this.newest();
    if (!created) throw new Error('signing key missing right after creating it');
    return created;
  }

  private async newest(): Promise<SigningKey | null> {
    const { rows } = await this.db.query<{ kid: string; private_jwk: JWK }>(
      'SELECT kid, private_jwk FROM signing_keys ORDER BY created_at DESC, kid DESC LIMIT 1',
    );
    const row = rows[0];
    if (!row) return null;
    return { kid: row.kid, privateKey: await importJWK(row.private_jwk, ALG) };
  }
}
