import { created, errors, noContent, reply, type RouteDef, type ServiceContext } from '@msa/service-kit';
import type { configShape } from './config';
import { clientAddress } from './client-address';
import { LoginThrottledError, loginBody, throttledLogin } from './domain/login';
import type { LoginThrottle } from './domain/login-throttle';
import { getProfile, updateProfile, updateProfileBody } from './domain/profile';
import { register, registerBody } from './domain/register';
import type { RevocationFeed } from './domain/revocations';
import type { SigningKeys } from './domain/signing-keys';
import { unregister } from './domain/unregister';

type Ctx = ServiceContext<typeof configShape>;

// auth 'user' has already refused a call without a member; this only narrows the type.
const memberId = (caller: { user?: { id: string } }): string => {
  if (!caller.user) throw new errors.UnauthorizedError('sign in first');
  return caller.user.id;
};

export function buildRoutes(
  ctx: Ctx,
  keys: SigningKeys,
  throttle: LoginThrottle,
  revocations: RevocationFeed,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): RouteDef<any, any, any>[] {
  return [
    {
      method: 'POST',
      path: '/members',
      public: true,
      auth: 'none',
      summary: 'Register a customer account',
      body: registerBody,
      handler: async ({ body }) =>
        created(await register(ctx.db, body, { revealsTaken: ctx.config.REGISTRATION_REVEALS_TAKEN })),
    },
    {
      method: 'POST',
      path: '/members/login',
      public: true,
      auth: 'none',
      summary: 'Exchange email and password for a member token (ES256 JWT, 1 h)',
      noStore: true, // the answer is a bearer token
      body: loginBody,
      handler: async ({ body, caller, req, res }) => {
        try {
          return await throttledLogin(ctx.db, keys, throttle, body, clientAddress(req, caller.service));
        } catch (err) {
          if (err instanceof LoginThrottledError) res.set('retry-after', String(err.retryAfterS));
          throw err;
        }
      },
    },
    {
      method: 'GET',
      path: '/members/me',
      public: true,
      auth: 'user',
      summary: 'The signed-in member',
      handler: ({ caller }) => getProfile(ctx.db, memberId(caller)),
    },
    {
      method: 'PATCH',
      path: '/members/me',
      public: true,
      auth: 'user',
      summary:
        'Change name and/or password (the current password is needed for a new one; a new password revokes every token issued before it)',
      body: updateProfileBody,
      handler: ({ body, caller }) => updateProfile(ctx.db, memberId(caller), body, revocations),
    },
    {
      method: 'DELETE',
      path: '/members/me',
      public: true,
      auth: 'user',
      summary: "Unregister (soft delete; purchases are kept; the member's tokens are revoked)",
      handler: async ({ caller }) => {
        await unregister(ctx.db, memberId(caller), revocations);
        return noContent();
      },
    },
    {
      method: 'GET',
      path: '/.well-known/jwks.json',
      public: true,
      auth: 'none',
      summary: 'Public keys of member tokens (JWKS), where clients look for them; cacheable for 5 minutes',
      // Public keys only (keys.jwks() never holds the private part). Five minutes of caching is well inside
      // a rotation's overlap: a new key is published before it signs (see the service README).
      handler: async () => reply(200, await keys.jwks(), { 'cache-control': 'public, max-age=300' }),
    },
    {
      method: 'GET',
      path: '/internal/jwks',
      public: false,
      auth: 'none',
      summary: "Public keys of member tokens, for the gateway's JWT check",
      handler: async () => reply(200, await keys.jwks(), { 'cache-control': 'max-age=300' }),
    },
    {
      method: 'GET',
      path: '/internal/revocations/watch',
      public: false,
      auth: 'none',
      summary:
        'Revoked member tokens, pushed to gateways (Server-Sent Events: a snapshot, then each revocation this instance makes)',
      handler: async ({ res }) => {
        await revocations.serve(res);
      },
    },
  ];
}
