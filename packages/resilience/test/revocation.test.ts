// Token revocation through the real gateway, on two gateway replicas: once a member unregisters or changes the
// password, the tokens issued before are refused (401) on every replica within one second, even when the replica
// had already verified and cached them; a token issued after the change works; other members are unaffected; a
// replica started after the revocation refuses the old token from its first request.
import { ADMIN, buy, call, createProduct, login, newMember, type Member } from './support/api';
import { startExtraInstance, type ExtraInstance } from './support/extra';
import { record } from './support/record';
import { startShop, type Shop } from './support/shop';

let shop: Shop;
let second: ExtraInstance;
let gateways: string[];
let bystander: Member;
let productId: string;
const PASSWORD = 'correct horse battery'; // newMember's

beforeAll(async () => {
  shop = await startShop({ env: { RATE_LIMIT_POINTS: '0' } });
  // A second gateway replica: same distributor, same member service, its own token cache.
  second = await startExtraInstance(shop, 'gateway', { PORT: '0', HTTPS_PORT: '0', RATE_LIMIT_POINTS: '0' });
  gateways = [shop.gateway, second.url];
  const admin = await login(shop.gateway, ADMIN.email, ADMIN.password);
  productId = await createProduct(shop.gateway, admin, 50);
  bystander = await newMember(shop.gateway);
}, 120_000);

afterAll(async () => {
  await second?.stop();
  await shop?.stop();
}, 60_000);

const statusOf = async (gateway: string, token: string) =>
  (await call(gateway, 'GET', '/purchases', { token })).status;

/** Every replica verifies (and caches) the token first, so the test is about revoking a cached token. */
async function usedEverywhere(token: string): Promise<void> {
  for (const gw of gateways) expect(await statusOf(gw, token)).toBe(200);
}

/** Polls each replica until the token is refused; the milliseconds each took, or null when still accepted at 1 s. */
async function refusedWithinOneSecond(token: string, since: number): Promise<(number | null)[]> {
  return Promise.all(
    gateways.map(async (gw) => {
      for (;;) {
        const status = await statusOf(gw, token);
        const elapsed = Date.now() - since;
        if (status === 401) return elapsed;
        if (elapsed > 1000) return null;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }),
  );
}

describe('token revocation through two gateway replicas', () => {
  test('a deleted member’s old token is refused on every replica within one second; others are unaffected', async () => {
    const gone = await newMember(shop.gateway);
    await usedEverywhere(gone.token);
    await usedEverywhere(bystander.token);

    const deleted = await call(second.url, 'DELETE', '/members/me', { token: gone.token });
    expect(deleted.status).toBe(204);
    const took = await refusedWithinOneSecond(gone.token, Date.now());
    const bought = await buy(shop.gateway, gone.token, productId, 1);
    const others = await Promise.all(gateways.map((gw) => statusOf(gw, bystander.token)));

    record({
      kind: 'security',
      name: 'revocation: a deleted member’s cached token, on 2 gateway replicas (GET /purchases, POST /purchases)',
      cases: gateways.length + 1 + others.length,
      violations:
        took.filter((ms) => ms === null).length +
        (bought.status === 401 ? 0 : 1) +
        others.filter((s) => s !== 200).length,
      notes: `refused after ${took.map((ms) => (ms === null ? 'never (>1 s)' : `${ms} ms`)).join(' / ')}`,
    });
    expect(took.every((ms) => ms !== null)).toBe(true);
    expect(bought.status).toBe(401);
    expect(bought.body.code).toBe('UNAUTHORIZED');
    expect(others).toEqual([200, 200]);
  });

  test('a password change revokes the tokens issued before it; the one from the next login works', async () => {
    const member = await newMember(shop.gateway);
    const olderToken = await login(second.url, member.email, PASSWORD);
    await usedEverywhere(member.token);
    await usedEverywhere(olderToken);

    const changed = await call(shop.gateway, 'PATCH', '/members/me', {
      token: member.token,
      body: { password: 'a brand new passphrase', currentPassword: PASSWORD },
    });
    expect(changed.status).toBe(200);
    const since = Date.now();
    const [took, tookOlder] = await Promise.all([
      refusedWithinOneSecond(member.token, since),
      refusedWithinOneSecond(olderToken, since),
    ]);

    // A login right after the change (same second as the revocation) gets a token that works everywhere.
    const fresh = await login(second.url, member.email, 'a brand new passphrase');
    const freshStatuses = await Promise.all(gateways.map((gw) => statusOf(gw, fresh)));
    const oldPassword = await call(shop.gateway, 'POST', '/members/login', {
      body: { email: member.email, password: PASSWORD },
    });
    const others = await Promise.all(gateways.map((gw) => statusOf(gw, bystander.token)));

    record({
      kind: 'security',
      name: 'revocation: tokens issued before a password change, on 2 gateway replicas; the next login’s token',
      cases: 2 * gateways.length + freshStatuses.length + 1 + others.length,
      violations:
        [...took, ...tookOlder].filter((ms) => ms === null).length +
        freshStatuses.filter((s) => s !== 200).length +
        (oldPassword.status === 401 ? 0 : 1) +
        others.filter((s) => s !== 200).length,
      notes: `old tokens refused after ${[...took, ...tookOlder].map((ms) => (ms === null ? 'never (>1 s)' : `${ms} ms`)).join(' / ')}`,
    });
    expect([...took, ...tookOlder].every((ms) => ms !== null)).toBe(true);
    expect(freshStatuses).toEqual([200, 200]);
    expect(oldPassword.status).toBe(401);
    expect(others).toEqual([200, 200]);
  });

  test('a gateway replica started after the revocation refuses the old token from its first request', async () => {
    const gone = await newMember(shop.gateway);
    const changer = await newMember(shop.gateway);
    expect((await call(shop.gateway, 'DELETE', '/members/me', { token: gone.token })).status).toBe(204);
    const changed = await call(shop.gateway, 'PATCH', '/members/me', {
      token: changer.token,
      body: { password: 'another new passphrase', currentPassword: PASSWORD },
    });
    expect(changed.status).toBe(200);
    const fresh = await login(shop.gateway, changer.email, 'another new passphrase');

    const late = await startExtraInstance(shop, 'gateway', {
      PORT: '0',
      HTTPS_PORT: '0',
      RATE_LIMIT_POINTS: '0',
    });
    try {
      const answers = {
        deleted: await statusOf(late.url, gone.token),
        beforeChange: await statusOf(late.url, changer.token),
        afterChange: await statusOf(late.url, fresh),
        other: await statusOf(late.url, bystander.token),
      };
      record({
        kind: 'security',
        name: 'revocation: a gateway replica started after the revocations (first requests)',
        cases: 4,
        violations:
          (answers.deleted === 401 ? 0 : 1) +
          (answers.beforeChange === 401 ? 0 : 1) +
          (answers.afterChange === 200 ? 0 : 1) +
          (answers.other === 200 ? 0 : 1),
      });
      expect(answers).toEqual({ deleted: 401, beforeChange: 401, afterChange: 200, other: 200 });
    } finally {
      await late.stop();
    }
  });
});
