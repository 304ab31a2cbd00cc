import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { z } from '@msa/service-kit';

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 128;
const RULE = `must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`;

/** The password rule, stated in every 400 that breaks it. */
export const passwordSchema = z
  .string({ error: (i) => (i.input === undefined ? `is required (${RULE})` : `must be a string (${RULE})`) })
  .min(PASSWORD_MIN, RULE)
  .max(PASSWORD_MAX, RULE);

// N=2^15, r=8 needs 128·N·r = 32 MiB, exactly Node's default maxmem, which scrypt refuses at the limit.
const PARAMS = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
const maxmemFor = (N: number, r: number) => 256 * N * r;

// Verification re-reads N/r/p from the stored hash; these bounds keep a corrupt row from costing unbounded memory.
const LIMITS = { N: 2 ** 20, r: 32, p: 16 };

function derive(password: string, salt: Buffer, N: number, r: number, p: number, keylen: number) {
  const options: ScryptOptions = { N, r, p, maxmem: maxmemFor(N, r) };
  // The callback form runs on libuv's thread pool, so a login never blocks the event loop.
  return new Promise<Buffer>((resolve, reject) =>
    // NFKC: the same password typed on two keyboards (composed vs decomposed accents) hashes the same.
    scrypt(password.normalize('NFKC'), salt, keylen, options, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** `scrypt$N$r$p$salt$hash` (salt and hash base64url), with a fresh salt per password. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await derive(password, salt, PARAMS.N, PARAMS.r, PARAMS.p, KEY_LENGTH);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join(
    '$',
  );
}

interface Parsed {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function parse(stored: string): Parsed | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64url');
  const hash = Buffer.from(parts[5]!, 'base64url');
  const valid =
    Number.isInteger(N) &&
    N > 1 &&
    N <= LIMITS.N &&
    (N & (N - 1)) === 0 &&
    Number.isInteger(r) &&
    r >= 1 &&
    r <= LIMITS.r &&
    Number.isInteger(p) &&
    p >= 1 &&
    p <= LIMITS.p &&
    salt.length > 0 &&
    hash.length >= 16;
  return valid ? { N, r, p, salt, hash } : null;
}

async function matches(password: string, stored: Parsed): Promise<boolean> {
  const key = await derive(password, stored.salt, stored.N, stored.r, stored.p, stored.hash.length);
  return timingSafeEqual(key, stored.hash);
}

// Same parameters as a real hash, so checking it costs what checking a member's password costs.
const DUMMY = parse(
  `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${Buffer.alloc(SALT_LENGTH, 7).toString('base64url')}$${Buffer.alloc(KEY_LENGTH).toString('base64url')}`,
)!;

/** True when `password` matches `stored`. A stored value that is not a hash (a deleted member's) never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed) {
    await matches(password, DUMMY);
    return false;
  }
  return matches(password, parsed);
}

/** For an unknown email: the same work as a real check, always false, so timing does not reveal who is a member. */
export async function verifyAgainstDummy(password: string): Promise<false> {
  await matches(password, DUMMY);
  return false;
}
