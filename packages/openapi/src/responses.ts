// What the public routes answer. The services validate their input with zod but do not declare their
// output, so the bodies are written down here from the handlers (toMember, toProduct, toPurchase,
// login, the list functions) — and the test checks real answers against them, strictly.
import { problemSchema, z } from '@msa/service-kit';

const uuid = z.uuid();
const timestamp = z.iso.datetime();

/** The one error shape (RFC 9457 problem details), defined once in the kit: docs/errors.md. */
export const errorSchema = problemSchema;

export const memberSchema = z
  .strictObject({
    id: uuid,
    email: z.email(),
    name: z.string(),
    role: z.enum(['customer', 'admin']),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Member', description: 'A member as every answer shows it (never the password hash)' });

export const loginResultSchema = z
  .strictObject({
    token: z.string().meta({ description: 'ES256 JWT; send it as `Authorization: Bearer <token>`' }),
    tokenType: z.literal('Bearer'),
    expiresIn: z.number().int().meta({ description: 'Seconds until the token expires' }),
    member: memberSchema,
  })
  .meta({ id: 'LoginResult' });

export const jwksSchema = z
  .strictObject({
    keys: z.array(
      z
        .looseObject({
          kty: z.literal('EC'),
          crv: z.literal('P-256'),
          x: z.string(),
          y: z.string(),
          kid: z.string(),
          alg: z.literal('ES256'),
          use: z.literal('sig'),
        })
        .meta({ description: 'A public key (never the private part); pick it by the token header `kid`' }),
    ),
  })
  .meta({ id: 'JsonWebKeySet', description: "Member tokens' public keys, newest first (RFC 7517)" });

export const productSchema = z
  .strictObject({
    id: uuid,
    name: z.string(),
    description: z.string(),
    category: z.string(),
    price: z.number().meta({ description: 'At most 2 decimals' }),
    stock: z.number().int(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Product' });

const page = { total: z.number().int(), limit: z.number().int(), offset: z.number().int() };

export const productPageSchema = z
  .strictObject({ items: z.array(productSchema), ...page })
  .meta({ id: 'ProductPage', description: '`total` counts every product matching the filters' });

export const purchaseSchema = z
  .strictObject({
    id: uuid,
    memberId: uuid,
    productId: uuid,
    quantity: z.number().int(),
    unitPrice: z.number().nullable().meta({ description: 'Set when the purchase completes' }),
    total: z
      .number()
      .nullable()
      .meta({ description: 'unitPrice × quantity, set when the purchase completes' }),
    status: z.enum(['pending', 'completed', 'failed', 'cancelling', 'cancelled']),
    failureReason: z
      .enum(['out-of-stock', 'product-not-found', 'product-unavailable', 'product-rejected'])
      .optional()
      .meta({ description: 'Only on failed purchases' }),
    idempotencyKey: z.string(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Purchase' });

export const purchasePageSchema = z
  .strictObject({ items: z.array(purchaseSchema), ...page })
  .meta({ id: 'PurchasePage' });

export interface Answer {
  description: string;
  /** No schema: an empty body (204). */
  schema?: z.ZodType;
  headers?: Record<string, { description: string; schema: z.ZodType }>;
}

export interface RouteDoc {
  /** The success answers, by status. */
  success: Record<number, Answer>;
  /** Errors particular to this route (the generic ones — 400, 401, 403, 429, 5xx — are added for all). */
  errors?: Record<number, string>;
  /** Request headers the handler reads itself (not part of the route's zod schemas). */
  headers?: Record<string, { description: string; required: boolean; schema: z.ZodType }>;
}

const json = (description: string, schema: z.ZodType): Answer => ({ description, schema });

/** By `METHOD path`, exactly as the service defines the route. */
export const routeDocs: Record<string, RouteDoc> = {
  'POST /members': {
    success: {
      201: json(
        'The new member (role customer). An email that already has an account gets the same answer, with an id that ' +
          'names no one and the account untouched, unless REGISTRATION_REVEALS_TAKEN=true (docs/security.md)',
        memberSchema,
      ),
    },
    errors: {
      409: 'EMAIL_TAKEN, only with REGISTRATION_REVEALS_TAKEN=true: an account with this email already exists',
    },
  },
  'POST /members/login': {
    success: { 200: json('A member token and the member', loginResultSchema) },
    errors: {
      401: 'INVALID_CREDENTIALS: the same answer for an unknown email and a wrong password',
      429: "LOGIN_THROTTLED (or the gateway's RATE_LIMITED): too many failed logins; `Retry-After` says when to retry",
    },
  },
  'GET /.well-known/jwks.json': {
    success: { 200: json('The public keys of member tokens (cacheable for 5 minutes)', jwksSchema) },
  },
  'GET /members/me': {
    success: { 200: json('The signed-in member', memberSchema) },
    errors: { 404: 'MEMBER_NOT_FOUND: the token names a member that has unregistered' },
  },
  'PATCH /members/me': {
    success: { 200: json('The member after the change', memberSchema) },
    errors: {
      403: 'WRONG_CURRENT_PASSWORD: `currentPassword` is not correct',
      404: 'MEMBER_NOT_FOUND',
    },
  },
  'DELETE /members/me': {
    success: { 204: { description: 'Unregistered' } },
    errors: { 404: 'MEMBER_NOT_FOUND' },
  },
  'GET /products': {
    success: { 200: json('A page of products, in the asked order (ties broken by id)', productPageSchema) },
  },
  'GET /products/{id}': {
    success: { 200: json('The product', productSchema) },
    errors: { 404: 'PRODUCT_NOT_FOUND' },
  },
  'POST /products': {
    success: { 201: json('The new product', productSchema) },
  },
  'PATCH /products/{id}': {
    success: { 200: json('The product after the change', productSchema) },
    errors: { 404: 'PRODUCT_NOT_FOUND' },
  },
  'DELETE /products/{id}': {
    success: { 204: { description: 'Removed' } },
    errors: { 404: 'PRODUCT_NOT_FOUND' },
  },
  'POST /purchases': {
    success: {
      201: json('Bought: the completed purchase (first request with this key)', purchaseSchema),
      200: json('The same purchase again: this Idempotency-Key was already used for it', purchaseSchema),
      202: json(
        'Still pending (a repeat of a request the product service could not answer); ask again later',
        purchaseSchema,
      ),
    },
    errors: {
      404: 'PRODUCT_NOT_FOUND: no product with this id (no purchase is kept for it)',
      409: 'OUT_OF_STOCK (member `purchase`: the failed purchase); MEMBER_LIMIT_REACHED: over the per-member cap of one product, nothing written (members `limit`, `held`, `requested`); PRODUCT_UNPRICED / PURCHASE_EXPIRED: given up by the reconciler, its stock given back (member `purchase`)',
      422: 'IDEMPOTENCY_KEY_REUSED: the key was used for a different product or quantity (member `purchaseId`)',
      502: 'PRODUCT_REJECTED: the product service refused the reservation (member `purchase`)',
      503: 'PRODUCT_UNAVAILABLE: product could not be reached; the purchase stays pending (member `purchase`) — repeat with the same key to see its outcome',
    },
    headers: {
      'Idempotency-Key': {
        description:
          'One key per purchase, sent again with every retry of it: a repeat returns the same purchase instead of buying twice',
        required: true,
        schema: z
          .string()
          .regex(/^[A-Za-z0-9._:~-]{1,200}$/)
          .meta({ example: '7d0c6f9e-5b1a-4c0e-9a51-0d2b8c1f4e21' }),
      },
    },
  },
  'GET /purchases': {
    success: { 200: json('My purchases, newest first', purchasePageSchema) },
  },
  'GET /purchases/{id}': {
    success: { 200: json('The purchase', purchaseSchema) },
    errors: { 404: "PURCHASE_NOT_FOUND (also for another member's purchase)" },
  },
  'POST /purchases/{id}/cancel': {
    success: {
      200: json('The cancelled purchase (again 200 when it was already cancelled)', purchaseSchema),
    },
    errors: {
      404: 'PURCHASE_NOT_FOUND',
      409: 'PURCHASE_PENDING (not settled yet; try again shortly) or NOT_CANCELLABLE (a failed purchase)',
      503: 'PRODUCT_UNAVAILABLE: the stock could not be given back yet; the cancel is finished later',
    },
  },
};
