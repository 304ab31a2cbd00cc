import { created, noContent, reply, type RouteDef } from '@msa/service-kit';
import {
  createProduct,
  createProductBody,
  deleteProduct,
  findProduct,
  idParams,
  listProducts,
  listProductsQuery,
  patchProductBody,
  productNotFound,
  updateProduct,
} from './domain/catalog';
import type { ProductCache } from './domain/product-cache';
import {
  findReservation,
  purchaseParams,
  release,
  reservationNotFound,
  reserve,
  reserveBody,
} from './domain/reservations';
import type { Sql } from './domain/sql';

// Identity, so each route's handler gets its body, query and params typed from its schemas.
const route = <B, Q, P>(def: RouteDef<B, Q, P>) => def;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function productRoutes(db: Sql, cache: ProductCache): RouteDef<any, any, any>[] {
  return [
    route({
      method: 'GET',
      path: '/products',
      public: true,
      auth: 'none',
      summary: 'List products: filter by category and price, sort, page',
      query: listProductsQuery,
      handler: ({ query }) => listProducts(db, query),
    }),
    route({
      method: 'GET',
      path: '/products/:id',
      public: true,
      auth: 'none',
      summary: 'One product (cached)',
      params: idParams,
      handler: async ({ params }) => {
        const product = await cache.read(params.id, () => findProduct(db, params.id));
        if (!product) throw productNotFound(params.id);
        return product;
      },
    }),
    route({
      method: 'POST',
      path: '/products',
      public: true,
      auth: 'admin',
      summary: 'Add a product',
      body: createProductBody,
      handler: async ({ body }) => created(await createProduct(db, body)),
    }),
    route({
      method: 'PATCH',
      path: '/products/:id',
      public: true,
      auth: 'admin',
      summary: 'Change a product',
      params: idParams,
      body: patchProductBody,
      handler: async ({ params, body }) => {
        const product = await updateProduct(db, params.id, body);
        await cache.invalidate(params.id);
        return product;
      },
    }),
    route({
      method: 'DELETE',
      path: '/products/:id',
      public: true,
      auth: 'admin',
      summary: 'Remove a product',
      params: idParams,
      handler: async ({ params }) => {
        await deleteProduct(db, params.id);
        await cache.invalidate(params.id);
        return noContent();
      },
    }),
    route({
      method: 'POST',
      path: '/internal/reservations',
      public: false,
      auth: 'none',
      summary: 'Reserve stock for a purchase (idempotent per purchaseId)',
      body: reserveBody,
      handler: async ({ body }) => {
        const { created: isNew, reservation, product } = await reserve(db, body);
        if (isNew) await cache.invalidate(reservation.productId);
        return reply(isNew ? 201 : 200, { reservation, product });
      },
    }),
    route({
      method: 'POST',
      path: '/internal/reservations/:purchaseId/release',
      public: false,
      auth: 'none',
      summary: 'Give a purchase’s stock back (idempotent)',
      params: purchaseParams,
      handler: async ({ params }) => {
        const { reservation, restocked } = await release(db, params.purchaseId);
        if (restocked) await cache.invalidate(reservation.productId);
        return { reservation };
      },
    }),
    route({
      method: 'GET',
      path: '/internal/reservations/:purchaseId',
      public: false,
      auth: 'none',
      summary: 'A purchase’s reservation (for the reconciler)',
      params: purchaseParams,
      handler: async ({ params }) => {
        const reservation = await findReservation(db, params.purchaseId);
        if (!reservation) throw reservationNotFound(params.purchaseId);
        return { reservation };
      },
    }),
  ];
}
