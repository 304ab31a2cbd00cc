import { MAX_QUANTITY } from '@msa/contracts';
import { errors, z, type Caller, type RouteDef } from '@msa/service-kit';
import { buy } from './domain/buy';
import { cancelPurchase } from './domain/cancel';
import type { Member, PurchaseDeps } from './domain/deps';
import { getPurchase } from './domain/get';
import { listPurchases } from './domain/list';

// Letters, digits and a few separators: enough for UUIDs, ULIDs and client-made keys, nothing to escape.
const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:~-]{1,200}$/;
const UUID_LIKE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const buyBody = z
  .object({
    productId: z.uuid(),
    // The domain's limit; the shop's own (MAX_QUANTITY_PER_ORDER, may be lower) is checked by buy.
    quantity: z.number().int().min(1).max(MAX_QUANTITY),
  })
  .strict();
const page = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  })
  .strict();
const byId = z.object({ id: z.uuid() }).strict();
const noBody = z.object({}).strict();

/** The signed-in member the gateway vouched for; auth: 'user' already refused calls without one. */
function memberOf(caller: Caller): Member {
  const user = caller.user;
  if (!user || !UUID_LIKE.test(user.id)) throw new errors.UnauthorizedError('sign in first');
  return { id: user.id.toLowerCase(), role: user.role };
}

function idempotencyKeyOf(header: string | string[] | undefined): string {
  if (typeof header === 'string' && IDEMPOTENCY_KEY.test(header)) return header;
  throw new errors.ValidationError('an Idempotency-Key header is required', [
    {
      field: 'headers.idempotency-key',
      message:
        header === undefined
          ? 'required: a unique key per purchase, sent again with every retry of it'
          : '1 to 200 characters of A-Z a-z 0-9 . _ : ~ -',
    },
  ]);
}

export function purchaseRoutes(deps: PurchaseDeps): RouteDef[] {
  return [
    {
      method: 'POST',
      path: '/purchases',
      public: true,
      auth: 'user',
      summary: 'Buy a product; the same Idempotency-Key always returns the same purchase',
      body: buyBody,
      handler: ({ body, caller, req }) =>
        buy(deps, {
          memberId: memberOf(caller).id,
          productId: body.productId.toLowerCase(),
          quantity: body.quantity,
          idempotencyKey: idempotencyKeyOf(req.headers['idempotency-key']),
        }),
    } satisfies RouteDef<z.infer<typeof buyBody>>,
    {
      method: 'GET',
      path: '/purchases',
      public: true,
      auth: 'user',
      summary: 'My purchases, newest first',
      query: page,
      handler: ({ query, caller }) => listPurchases(deps, memberOf(caller), query),
    } satisfies RouteDef<unknown, z.infer<typeof page>>,
    {
      method: 'GET',
      path: '/purchases/:id',
      public: true,
      auth: 'user',
      summary: 'One purchase (its owner or an admin)',
      params: byId,
      handler: ({ params, caller }) => getPurchase(deps, params.id, memberOf(caller)),
    } satisfies RouteDef<unknown, unknown, z.infer<typeof byId>>,
    {
      method: 'POST',
      path: '/purchases/:id/cancel',
      public: true,
      auth: 'user',
      summary: 'Cancel a completed purchase and give its stock back (repeating it answers 200 again)',
      params: byId,
      body: noBody,
      handler: async ({ params, caller }) => cancelPurchase(deps, params.id, memberOf(caller)),
    } satisfies RouteDef<unknown, unknown, z.infer<typeof byId>>,
  ] as RouteDef[];
}
