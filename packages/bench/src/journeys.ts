// The user journeys the load generator drives through the gateway, as autocannon request sequences.
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { summarize, type LoadResult } from './cannon';
import { BENCH_PASSWORD, listProducts, newMember, stockedProduct, uniqueEmail } from './client';

export interface Journey {
  name: string;
  /** Share of the connections. */
  weight: number;
  describe: string;
  requests: autocannon.Request[];
}

export interface JourneySetup {
  productIds: string[];
  /** The product purchases buy (deep stock). */
  buyProductId: string;
  memberTokens: string[];
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const json = { 'content-type': 'application/json' };
/** What a connection carries from one request of its journey to the next. */
const ctxOf = (context: object) => context as { email?: string; token?: string };

export function journeys(s: JourneySetup): Journey[] {
  return [
    {
      name: 'browse',
      weight: 40,
      describe: 'list products: first page, a category sorted by price, a second page',
      requests: [
        { method: 'GET', path: '/products?limit=20' },
        { method: 'GET', path: '/products?category=electronics&sort=price' },
        { method: 'GET', path: '/products?limit=10&offset=10&sort=-price' },
      ],
    },
    {
      name: 'view',
      weight: 30,
      describe: 'one product, by id (cached)',
      requests: [
        { method: 'GET', setupRequest: (req) => ({ ...req, path: `/products/${pick(s.productIds)}` }) },
      ],
    },
    {
      name: 'account',
      weight: 10,
      describe: 'register a new member, then log in (two scrypt hashes: memory-hard on purpose)',
      requests: [
        {
          method: 'POST',
          path: '/members',
          headers: json,
          setupRequest: (req, context) => {
            ctxOf(context).email = uniqueEmail('loadgen');
            return {
              ...req,
              body: JSON.stringify({
                email: ctxOf(context).email,
                password: BENCH_PASSWORD,
                name: 'Load Gen',
              }),
            };
          },
        },
        {
          method: 'POST',
          path: '/members/login',
          headers: json,
          setupRequest: (req, context) => ({
            ...req,
            body: JSON.stringify({ email: ctxOf(context).email, password: BENCH_PASSWORD }),
          }),
        },
      ],
    },
    {
      name: 'buy',
      weight: 20,
      describe: 'as a signed-in member: view the product, buy one (Idempotency-Key), list my purchases',
      requests: buyJourney(s),
    },
  ];
}

export function buyJourney(s: JourneySetup): autocannon.Request[] {
  return [
    {
      method: 'GET',
      setupRequest: (req, context) => {
        ctxOf(context).token = pick(s.memberTokens);
        return {
          ...req,
          path: `/products/${s.buyProductId}`,
          headers: { authorization: `Bearer ${ctxOf(context).token}` },
        };
      },
    },
    {
      method: 'POST',
      path: '/purchases',
      setupRequest: (req, context) => ({
        ...req,
        headers: {
          ...json,
          authorization: `Bearer ${ctxOf(context).token}`,
          'idempotency-key': randomUUID(),
        },
        body: JSON.stringify({ productId: s.buyProductId, quantity: 1 }),
      }),
    },
    {
      method: 'GET',
      path: '/purchases?limit=5',
      setupRequest: (req, context) => ({
        ...req,
        headers: { authorization: `Bearer ${ctxOf(context).token}` },
      }),
    },
  ];
}

/** Products to view, a product to buy (deep stock when an admin can create one) and a few members. */
export async function prepare(base: string, members = 5): Promise<JourneySetup & { warning?: string }> {
  const products = await listProducts(base);
  if (products.length === 0) throw new Error('the catalogue is empty: nothing to browse or buy');
  const admin = {
    email: process.env.LOADGEN_ADMIN_EMAIL ?? 'admin@msa.local',
    password: process.env.LOADGEN_ADMIN_PASSWORD ?? 'admin-password-change-me',
  };
  let buyProductId = await stockedProduct(base, admin);
  let warning: string | undefined;
  if (buyProductId === undefined) {
    const deepest = [...products].sort((a, b) => b.stock - a.stock)[0]!;
    buyProductId = deepest.id;
    warning =
      `could not log in as ${admin.email} (set LOADGEN_ADMIN_EMAIL/LOADGEN_ADMIN_PASSWORD) to create a deep-stock product; ` +
      `buying "${deepest.name}" (stock ${deepest.stock}): purchases fail once it is sold out`;
  }
  const memberTokens: string[] = [];
  for (let i = 0; i < members; i++) memberTokens.push(await newMember(base));
  return { productIds: products.map((p) => p.id), buyProductId, memberTokens, warning };
}

export interface JourneyResult extends LoadResult {
  journey: string;
  connections: number;
  journeysPerSecond: number;
}

/** Splits `connections` by weight (at least one each) and runs every journey at once for `durationS`. */
export async function runJourneys(
  base: string,
  list: Journey[],
  opts: { connections: number; durationS: number; timeoutS?: number },
): Promise<JourneyResult[]> {
  const total = list.reduce((n, j) => n + j.weight, 0);
  const runs = list.map(async (j) => {
    const connections = Math.max(1, Math.round((opts.connections * j.weight) / total));
    const r = await autocannon({
      url: base,
      connections,
      duration: opts.durationS,
      timeout: opts.timeoutS ?? 10,
      requests: j.requests,
    });
    const s = summarize(r);
    return { ...s, journey: j.name, connections, journeysPerSecond: s.rps / j.requests.length };
  });
  return Promise.all(runs);
}
