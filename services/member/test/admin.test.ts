import { createLocalJWKSet, jwtVerify } from 'jose';
import { Client } from 'pg';
import { ConfigError } from '@msa/service-kit';
import { createSharedTestDatabase, type SharedTestDatabase } from '@msa/service-kit/testing';
import { caller, startMember, type MemberService } from './support/member-service';

const engine = process.env.DATABASE_URL ? 'Postgres' : 'embedded PGlite';

describe(`the admin account from config (${engine})`, () => {
  let db: SharedTestDatabase;
  let url: string;

  beforeAll(async () => {
    // Several instances need one database to share.
    db = await createSharedTestDatabase(24);
    url = db.url;
  });
  afterAll(() => db.close());

  const rows = async (sql: string) => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  };

  it('when three instances start at once on one database, then one admin and one signing key exist, shared by all', async () => {
    const env = {
      DATABASE_URL: url,
      ADMIN_EMAIL: ' Boss@Shop.Example ',
      ADMIN_PASSWORD: 'a strong admin secret',
    };
    const instances = await Promise.all([startMember(env), startMember(env), startMember(env)]);
    try {
      expect(await rows("SELECT email, role, name FROM members WHERE role = 'admin'")).toEqual([
        { email: 'boss@shop.example', role: 'admin', name: 'Administrator' },
      ]);
      expect(await rows('SELECT kid FROM signing_keys')).toHaveLength(1);

      // A token from any instance verifies with the JWKS of any other: they sign with one key.
      const [a, b] = instances as [MemberService, MemberService, MemberService];
      const login = await caller(() => a)('/members/login', {
        method: 'POST',
        body: { email: 'boss@shop.example', password: 'a strong admin secret' },
      });
      expect(login.status).toBe(200);
      expect(login.json.member.role).toBe('admin');
      const jwks = await caller(() => b)('/internal/jwks');
      const { payload } = await jwtVerify(login.json.token, createLocalJWKSet(jwks.json));
      expect(payload.role).toBe('admin');
    } finally {
      await Promise.all(instances.map((s) => s.stop()));
    }

    // A restart finds the admin there and leaves it alone, even with another password configured.
    const again = await startMember({ ...env, ADMIN_PASSWORD: 'another admin secret' });
    try {
      expect(await rows("SELECT count(*)::int AS n FROM members WHERE role = 'admin'")).toEqual([{ n: 1 }]);
      const login = await caller(() => again)('/members/login', {
        method: 'POST',
        body: { email: 'boss@shop.example', password: 'a strong admin secret' },
      });
      expect(login.status).toBe(200);
    } finally {
      await again.stop();
    }
  });

  it('when NODE_ENV is production and ADMIN_PASSWORD is missing, then the service refuses to start', async () => {
    const start = startMember({ DATABASE_URL: url, NODE_ENV: 'production', ADMIN_PASSWORD: '' });
    await expect(start).rejects.toThrow(ConfigError);
    await expect(start).rejects.toThrow(/ADMIN_PASSWORD is required when NODE_ENV=production/);
  });

  it('when ADMIN_PASSWORD breaks the password rule, then the service refuses to start naming it', async () => {
    await expect(startMember({ DATABASE_URL: url, ADMIN_PASSWORD: 'short' })).rejects.toThrow(
      /ADMIN_PASSWORD: must be 10 to 128 characters/,
    );
  });
});
