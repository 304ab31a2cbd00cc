import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { createTestDatabase, type TestDatabase } from '@msa/service-kit/testing';
import { caller, startMember, type MemberService } from './support/member-service';

const engine = process.env.DATABASE_URL ? 'Postgres' : 'embedded PGlite';

describe(`member service (${engine})`, () => {
  let db: TestDatabase;
  let svc: MemberService;
  const call = caller(() => svc);
  const count = async (where = 'true', params: unknown[] = []) =>
    Number(
      (await svc.ctx.db.query(`SELECT count(*)::int AS n FROM members WHERE ${where}`, params)).rows[0].n,
    );

  let seq = 0;
  const newMember = (overrides: Record<string, unknown> = {}) => ({
    email: `member${++seq}-${Date.now()}@example.com`,
    password: 'correct horse battery',
    name: 'Ann Example',
    ...overrides,
  });
  const registered = async (overrides: Record<string, unknown> = {}) => {
    const input = newMember(overrides);
    const res = await call('/members', { method: 'POST', body: input });
    expect(res.status).toBe(201);
    return { input, member: res.json };
  };
  const loginAs = (email: string, password: string) =>
    call('/members/login', { method: 'POST', body: { email, password } });

  beforeAll(async () => {
    db = await createTestDatabase();
    svc = await startMember({ DATABASE_URL: db.url });
  });
  afterAll(async () => {
    await svc?.stop();
    await db?.drop();
  });

  describe('register', () => {
    it('when a visitor registers, then 201 with the member, a customer, and the password appears nowhere', async () => {
      const input = newMember({ email: '  Ann.Smith@Example.COM ', password: 'my secret passphrase' });
      const res = await call('/members', { method: 'POST', body: input });
      expect(res.status).toBe(201);
      expect(res.json).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        email: 'ann.smith@example.com',
        name: 'Ann Example',
        role: 'customer',
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      expect(res.text).not.toContain('my secret passphrase');
      expect(res.text).not.toMatch(/password|scrypt/i);

      const stored = (
        await svc.ctx.db.query('SELECT password_hash FROM members WHERE id = $1', [res.json.id])
      ).rows[0];
      expect(stored.password_hash).toMatch(/^scrypt\$32768\$8\$1\$[\w-]+\$[\w-]+$/);
      expect(stored.password_hash).not.toContain('my secret passphrase');

      const login = await loginAs('ann.smith@example.com', 'my secret passphrase');
      expect(login.text).not.toContain('my secret passphrase');
      expect(login.text).not.toMatch(/scrypt|password/i);
    });

    it('when the same email registers twice, also in another case, then the same 201 shape as a new account, the account untouched', async () => {
      const { input, member } = await registered();
      const again = await call('/members', {
        method: 'POST',
        body: {
          ...input,
          email: ` ${input.email.toUpperCase()} `,
          password: 'another passphrase',
          name: 'Someone Else',
        },
      });
      // REGISTRATION_REVEALS_TAKEN defaults to false: nothing says the email had an account (docs/security.md).
      expect(again.status).toBe(201);
      expect(Object.keys(again.json).sort()).toEqual(Object.keys(member).sort());
      expect(again.json.id).not.toBe(member.id);
      expect(again.json.email).toBe(input.email);
      expect(await count('lower(email) = $1', [input.email])).toBe(1);
      expect(await count('id = $1', [again.json.id])).toBe(0);
      expect((await loginAs(input.email, input.password)).status).toBe(200);
      expect((await loginAs(input.email, 'another passphrase')).status).toBe(401);
    });

    it.each([
      ['no fields at all', {}, ['body.email', 'body.password', 'body.name']],
      ['a malformed email', { email: 'not-an-email' }, ['body.email']],
      ['an SQL-looking email', { email: "x' OR '1'='1' --" }, ['body.email']],
      ['a short password', { password: 'short' }, ['body.password']],
      ['an overlong password', { password: 'p'.repeat(129) }, ['body.password']],
      [
        'the email as password',
        { email: 'same@example.com', password: 'same@example.com' },
        ['body.password'],
      ],
      ['an overlong name', { name: 'n'.repeat(101) }, ['body.name']],
      ['a blank name', { name: '   ' }, ['body.name']],
      ['a name with control characters', { name: 'Ann\u0000Bob' }, ['body.name']],
      [
        'wrong types',
        { email: 42, password: true, name: ['x'] },
        ['body.email', 'body.password', 'body.name'],
      ],
      ['an unknown field (asking to be admin)', { role: 'admin' }, ['body']],
    ])(
      'when the body has %s, then 400 lists the fields and no row is written',
      async (_what, overrides, fields) => {
        const before = await count();
        const body = Object.keys(overrides).length === 0 ? {} : newMember(overrides);
        const res = await call('/members', { method: 'POST', body });
        expect(res.status).toBe(400);
        expect(res.json.code).toBe('VALIDATION_FAILED');
        const named = res.json.errors.map((d: { field: string }) => d.field);
        expect(named.sort()).toEqual([...fields].sort());
        expect(await count()).toBe(before);
      },
    );

    it('when the password is too short, then the 400 states the rule', async () => {
      const res = await call('/members', { method: 'POST', body: newMember({ password: 'short' }) });
      expect(res.json.errors).toEqual([{ field: 'body.password', message: 'must be 10 to 128 characters' }]);
    });

    it('when an unknown field is sent, then the 400 names it', async () => {
      const res = await call('/members', { method: 'POST', body: newMember({ role: 'admin' }) });
      expect(JSON.stringify(res.json.errors)).toContain('role');
    });

    it('when the name looks like SQL, then it is stored literally and harms nothing', async () => {
      const name = "Robert'); DROP TABLE members;--";
      const { member, input } = await registered({ name });
      expect(member.name).toBe(name);
      const me = await call('/members/me', { as: { sub: member.id } });
      expect(me.json.name).toBe(name);
      expect((await loginAs(input.email, input.password)).status).toBe(200);
      expect(await count()).toBeGreaterThan(0);
    });
  });

  describe('login', () => {
    it('when the password is right, then a JWT that verifies against the published JWKS, with sub and role', async () => {
      const { input, member } = await registered();
      const res = await loginAs(input.email.toUpperCase(), input.password);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ token: expect.any(String), tokenType: 'Bearer', expiresIn: 3600, member });
      expect(res.headers.get('cache-control')).toBe('no-store'); // a bearer token: no cache may keep it

      const jwks = await call('/internal/jwks');
      expect(jwks.status).toBe(200);
      expect(jwks.json.keys).toHaveLength(1);
      expect(jwks.json.keys[0]).not.toHaveProperty('d'); // never the private part
      const { payload, protectedHeader } = await jwtVerify(res.json.token, createLocalJWKSet(jwks.json), {
        algorithms: ['ES256'],
        issuer: 'msa-member',
        audience: 'msa',
      });
      expect(protectedHeader.kid).toBe(jwks.json.keys[0].kid);
      expect(payload).toMatchObject({ sub: member.id, role: 'customer', email: input.email });
      expect(payload.exp! - payload.iat!).toBe(3600);
    });

    it('when the password is wrong or the email unknown, then the same 401 body for both', async () => {
      const { input } = await registered();
      const wrong = await loginAs(input.email, 'not the password at all');
      const unknown = await loginAs('nobody-here@example.com', 'not the password at all');
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(wrong.json).toMatchObject({ code: 'INVALID_CREDENTIALS', detail: 'email or password is wrong' });
      // The same answer either way (no telling which emails have accounts); only the request id differs.
      const { instance: _w, ...wrongRest } = wrong.json;
      const { instance: _u, ...unknownRest } = unknown.json;
      expect(unknownRest).toEqual(wrongRest);
    });

    it('when the login body is malformed, then 400 naming the fields', async () => {
      const res = await call('/members/login', { method: 'POST', body: { email: 'x', extra: 1 } });
      expect(res.status).toBe(400);
      const fields = res.json.errors.map((d: { field: string }) => d.field);
      expect(fields).toEqual(expect.arrayContaining(['body.email', 'body.password', 'body']));
    });
  });

  describe('profile', () => {
    it('when the gateway calls /members/me for a member, then the profile', async () => {
      const { member } = await registered();
      const res = await call('/members/me', { as: { sub: member.id } });
      expect(res.status).toBe(200);
      expect(res.json).toEqual(member);
    });

    it('when /members/me is called without a member, then 401; for an unknown or malformed id, 404', async () => {
      expect((await call('/members/me')).status).toBe(401);
      const unknown = await call('/members/me', { as: { sub: '00000000-0000-4000-8000-000000000000' } });
      expect(unknown.status).toBe(404);
      expect(unknown.json.code).toBe('MEMBER_NOT_FOUND');
      expect((await call('/members/me', { as: { sub: "1' OR '1'='1" } })).status).toBe(404);
    });

    it('when the name is changed, then the profile shows it and the email is untouched', async () => {
      const { member } = await registered();
      const res = await call('/members/me', {
        method: 'PATCH',
        as: { sub: member.id },
        body: { name: '  Ann B. ' },
      });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ id: member.id, email: member.email, name: 'Ann B.' });
      expect((await call('/members/me', { as: { sub: member.id } })).json.name).toBe('Ann B.');
    });

    it('when a new password comes without the current one, then 400 and nothing changes', async () => {
      const { member, input } = await registered();
      const res = await call('/members/me', {
        method: 'PATCH',
        as: { sub: member.id },
        body: { password: 'a brand new password', name: 'Changed' },
      });
      expect(res.status).toBe(400);
      expect(res.json.errors.map((d: { field: string }) => d.field)).toEqual(['body.currentPassword']);
      expect((await call('/members/me', { as: { sub: member.id } })).json.name).toBe(input.name);
      expect((await loginAs(input.email, input.password)).status).toBe(200);
    });

    it('when the current password is wrong, then 403 and neither name nor password changes', async () => {
      const { member, input } = await registered();
      const res = await call('/members/me', {
        method: 'PATCH',
        as: { sub: member.id },
        body: { password: 'a brand new password', currentPassword: 'a wrong password', name: 'Changed' },
      });
      expect(res.status).toBe(403);
      expect(res.json.code).toBe('WRONG_CURRENT_PASSWORD');
      expect((await call('/members/me', { as: { sub: member.id } })).json.name).toBe(input.name);
      expect((await loginAs(input.email, input.password)).status).toBe(200);
      expect((await loginAs(input.email, 'a brand new password')).status).toBe(401);
    });

    it('when the password is changed with the current one, then only the new one logs in', async () => {
      const { member, input } = await registered();
      const res = await call('/members/me', {
        method: 'PATCH',
        as: { sub: member.id },
        body: { password: 'a brand new password', currentPassword: input.password },
      });
      expect(res.status).toBe(200);
      expect(res.text).not.toMatch(/brand new|password/);
      expect((await loginAs(input.email, 'a brand new password')).status).toBe(200);
      expect((await loginAs(input.email, input.password)).status).toBe(401);
    });

    it.each([
      ['nothing to change', {}, ['body']],
      ['a short new password', { password: 'short', currentPassword: 'whatever it is' }, ['body.password']],
      ['an email change (not supported)', { email: 'new@example.com' }, ['body', 'body']],
      ['an overlong name', { name: 'n'.repeat(101) }, ['body.name']],
    ])('when the update has %s, then 400 naming the fields', async (_what, body, fields) => {
      const { member } = await registered();
      const res = await call('/members/me', { method: 'PATCH', as: { sub: member.id }, body });
      expect(res.status).toBe(400);
      expect(res.json.errors.map((d: { field: string }) => d.field).sort()).toEqual(fields);
    });
  });

  describe('unregister', () => {
    it('when a member unregisters, then login fails, /members/me is 404, and the row is kept as deleted', async () => {
      const { member, input } = await registered();
      const res = await call('/members/me', { method: 'DELETE', as: { sub: member.id } });
      expect(res.status).toBe(204);

      expect((await loginAs(input.email, input.password)).json.code).toBe('INVALID_CREDENTIALS');
      const me = await call('/members/me', { as: { sub: member.id } });
      expect(me.status).toBe(404);
      expect(
        (await call('/members/me', { method: 'PATCH', as: { sub: member.id }, body: { name: 'x' } })).status,
      ).toBe(404);
      expect((await call('/members/me', { method: 'DELETE', as: { sub: member.id } })).status).toBe(404);

      const row = (
        await svc.ctx.db.query('SELECT status, email, deleted_at FROM members WHERE id = $1', [member.id])
      ).rows[0];
      expect(row.status).toBe('deleted');
      expect(row.email).not.toBe(input.email);
      expect(row.deleted_at).not.toBeNull();
    });

    it('when a member unregisters, then the email is free for a new account', async () => {
      const { member, input } = await registered();
      await call('/members/me', { method: 'DELETE', as: { sub: member.id } });
      const again = await call('/members', { method: 'POST', body: input });
      expect(again.status).toBe(201);
      expect(again.json.id).not.toBe(member.id);
      const login = await loginAs(input.email, input.password);
      expect(login.json.member.id).toBe(again.json.id);
    });
  });

  describe('the private network', () => {
    it('when a call has no internal token, then 401 and nothing is written', async () => {
      const before = await count();
      const res = await call('/members', { method: 'POST', body: newMember(), internalToken: false });
      expect(res.status).toBe(401);
      expect((await call('/internal/jwks', { internalToken: false })).status).toBe(401);
      expect((await call('/members/login', { method: 'POST', body: {}, internalToken: false })).status).toBe(
        401,
      );
      expect(await count()).toBe(before);
    });

    it('when the JWKS is published, then it holds public ES256 keys only', async () => {
      const res = await call('/internal/jwks');
      for (const key of res.json.keys) {
        expect(key).toMatchObject({
          kty: 'EC',
          crv: 'P-256',
          alg: 'ES256',
          use: 'sig',
          kid: expect.any(String),
        });
        expect(key).not.toHaveProperty('d');
      }
    });
  });

  it('when the admin from config is asked for, then it exists with role admin and can log in', async () => {
    const res = await loginAs('admin@msa.local', 'admin-password-change-me');
    expect(res.status).toBe(200);
    expect(res.json.member.role).toBe('admin');
    expect(decodeProtectedHeader(res.json.token).alg).toBe('ES256');
  });

  describe('with REGISTRATION_REVEALS_TAKEN=true and a small login limit', () => {
    let strict: MemberService;
    const strictCall = caller(() => strict);
    beforeAll(async () => {
      strict = await startMember({
        DATABASE_URL: db.url,
        REGISTRATION_REVEALS_TAKEN: 'true',
        LOGIN_MAX_FAILS_PER_ACCOUNT_CLIENT: '2',
        LOGIN_SLOW_MS: '0',
      });
    });
    afterAll(async () => {
      await strict?.stop();
    });
    // Its own database on the embedded default, so its members are registered on it.
    const registeredHere = async () => {
      const input = newMember();
      expect((await strictCall('/members', { method: 'POST', body: input })).status).toBe(201);
      return { input };
    };

    it('when the same email registers twice, then 409 EMAIL_TAKEN and still one account', async () => {
      const { input } = await registeredHere();
      const again = await strictCall('/members', {
        method: 'POST',
        body: { ...input, name: 'Someone Else' },
      });
      expect(again.status).toBe(409);
      expect(again.json.code).toBe('EMAIL_TAKEN');
      const { rows } = await strict.ctx.db.query(
        'SELECT count(*)::int AS n FROM members WHERE lower(email) = $1',
        [input.email],
      );
      expect(rows[0].n).toBe(1);
    });

    it('when one client fails twice for one email, then 429 LOGIN_THROTTLED with Retry-After, even with the right password', async () => {
      const { input } = await registeredHere();
      const wrong = { email: input.email, password: 'not the password' };
      const statuses = [];
      for (let i = 0; i < 2; i++) {
        statuses.push((await strictCall('/members/login', { method: 'POST', body: wrong })).status);
      }
      const refused = await strictCall('/members/login', {
        method: 'POST',
        body: { email: input.email, password: input.password },
      });
      expect(statuses).toEqual([401, 401]);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(refused.json.code).toBe('LOGIN_THROTTLED');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    });
  });
});
