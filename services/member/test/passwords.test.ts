import { hashPassword, verifyAgainstDummy, verifyPassword } from '../src/domain/passwords';

describe('password hashing (scrypt)', () => {
  it('when a password is hashed, then the stored form names the parameters and a per-user salt', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(a).not.toBe(b); // different salts
  });

  it('when the right password is checked, then true; a wrong one, false', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(await verifyPassword('correct horse battery', stored)).toBe(true);
    expect(await verifyPassword('correct horse batterY', stored)).toBe(false);
  });

  it('when the same password is typed composed or decomposed, then it matches (NFKC)', async () => {
    const stored = await hashPassword('caf\u00e9 au lait 42');
    expect(await verifyPassword('cafe\u0301 au lait 42', stored)).toBe(true);
  });

  it('when the stored value is not a hash (a deleted member), then nothing matches', async () => {
    expect(await verifyPassword('!', '!')).toBe(false);
    expect(await verifyPassword('x', 'scrypt$999999999$8$1$AAAA$AAAA')).toBe(false);
  });

  it('when an unknown email is checked against the dummy hash, then always false', async () => {
    expect(await verifyAgainstDummy('anything at all')).toBe(false);
    expect(await verifyAgainstDummy('')).toBe(false);
  });
});
