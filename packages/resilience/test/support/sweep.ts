// Generated bad input for every public route (fast-check): each case is one request that must be
// refused with a 4xx JSON error, never a 5xx, never a change to any row.
import fc from 'fast-check';

export type Family =
  | 'malformed JSON'
  | 'wrong types'
  | 'huge numbers'
  | 'negative and fractional quantities'
  | 'overlong strings'
  | 'unknown fields'
  | 'SQL and script payloads';

export const FAMILIES: Family[] = [
  'malformed JSON',
  'wrong types',
  'huge numbers',
  'negative and fractional quantities',
  'overlong strings',
  'unknown fields',
  'SQL and script payloads',
];

export interface Target {
  /** e.g. "POST /purchases"; `{id}` is replaced by `id` below. */
  name: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  /** Who calls: a key into the tokens the test passes. */
  as?: 'alice' | 'admin';
  /** A valid body, or query (for GET), that the generators spoil one field at a time. */
  valid: Record<string, unknown>;
  /** Fields that are quantities (integers ≥ 1, or ≥ 0). */
  numeric: string[];
  /** Fields with a strict format (uuid, email, enum, pattern), where payloads must be refused. */
  formatted: string[];
  headers?: Record<string, string>;
  /** The path parameter, for routes with one (a valid one; the sweep also spoils it). */
  id?: string;
  /** Values a formatted field legitimately takes (a payload that fits it is not bad input). */
  allowed?: RegExp;
}

export interface Case {
  family: Family;
  target: Target;
  path: string;
  query?: string;
  rawBody?: string;
  headers?: Record<string, string>;
  label: string;
}

const SQL_AND_SCRIPT = [
  "' OR '1'='1",
  "'; DROP TABLE products; --",
  '1; DELETE FROM purchases',
  "admin'--",
  '" OR ""="',
  '1 UNION SELECT password_hash FROM members',
  '$1',
  '%00',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '{{7*7}}',
  '${jndi:ldap://x}',
  '../../etc/passwd',
  '\u0000',
];

const wrongValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.string({ maxLength: 5 }),
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.integer(), { minLength: 1, maxLength: 3 }),
  fc.record({ $gt: fc.constant('') }),
);

function spoilField(t: Target, field: string, value: unknown): Record<string, unknown> {
  return { ...t.valid, [field]: value };
}

/** A type that differs from the valid value's (in a query everything is text: text that is no number). */
function wrongTypeFor(valid: unknown, inQuery: boolean): fc.Arbitrary<unknown> {
  if (inQuery)
    return fc
      .string({ minLength: 1, maxLength: 8 })
      .filter((v) => v.trim() !== '' && Number.isNaN(Number(v)));
  return wrongValue.filter(
    (v) => typeof v !== typeof valid || Array.isArray(v) !== Array.isArray(valid) || v === null,
  );
}

/** Cases of one family against one target. */
export function casesFor(family: Family, t: Target, runs: number, seed: number): Case[] {
  const fields = Object.keys(t.valid);
  // A route with only a path parameter has nothing to spoil but that parameter.
  if (fields.length === 0 && !['wrong types', 'overlong strings', 'SQL and script payloads'].includes(family))
    return [];
  if (family === 'SQL and script payloads' && t.formatted.length === 0 && !t.id && !t.headers) return [];
  const pick = <T>(arr: T[]) => fc.constantFrom(...arr);
  const isQuery = t.method === 'GET' || t.method === 'DELETE';
  let arb: fc.Arbitrary<Omit<Case, 'family' | 'target'>>;
  const bodyCase = (body: unknown, label: string) => ({
    path: t.path,
    rawBody: JSON.stringify(body),
    label,
  });
  const queryCase = (query: Record<string, unknown>, label: string) => ({
    path: t.path,
    query: new URLSearchParams(
      Object.entries(query).map(([k, v]): [string, string] => [
        k,
        typeof v === 'string' ? v : JSON.stringify(v),
      ]),
    ).toString(),
    label,
  });
  const make = (value: Record<string, unknown>, label: string) =>
    isQuery ? queryCase(value, label) : bodyCase(value, label);
  const withId = (id: string, label: string) => ({
    path: t.path.replace(t.id ?? '\0', encodeURIComponent(id)),
    label,
  });

  switch (family) {
    case 'malformed JSON':
      if (isQuery) {
        arb = fc.string({ minLength: 1, maxLength: 30 }).map((s) => ({
          path: t.path,
          query: `${encodeURIComponent(s)}=%%&[]=${encodeURIComponent(s)}&limit[$gt]=1`,
          label: `query ${JSON.stringify(s)}`,
        }));
      } else {
        const valid = JSON.stringify(t.valid);
        arb = fc.oneof(
          fc
            .integer({ min: 1, max: Math.max(1, valid.length - 1) })
            .map((n) => ({ path: t.path, rawBody: valid.slice(0, n), label: `truncated at ${n}` })),
          fc
            .string({ minLength: 1, maxLength: 40 })
            .filter((s) => {
              try {
                JSON.parse(s);
                return false;
              } catch {
                return true;
              }
            })
            .map((s) => ({ path: t.path, rawBody: s, label: `text ${JSON.stringify(s)}` })),
          pick([
            '{"a":}',
            '{,}',
            "{'a':1}",
            '[1,2,',
            'NaN',
            '{"a":1,}',
            '\ufeff{}',
            '{"a":1}{"b":2}',
            '"just a string"',
            '[]',
            '123',
            'null',
          ]).map((s) => ({ path: t.path, rawBody: s, label: `literal ${s}` })),
          fc.integer({ min: 1000, max: 20000 }).map((depth) => ({
            path: t.path,
            rawBody: '['.repeat(depth) + ']'.repeat(depth),
            label: `nested ${depth} deep`,
          })),
        );
      }
      break;
    case 'wrong types': {
      const variants: fc.Arbitrary<Omit<Case, 'family' | 'target'>>[] = [];
      if (fields.length > 0)
        variants.push(
          pick(fields).chain((f) =>
            wrongTypeFor(t.valid[f], isQuery).map((v) =>
              make(spoilField(t, f, v), `${f}=${JSON.stringify(v)}`),
            ),
          ),
        );
      if (t.id)
        variants.push(
          fc
            .oneof(fc.integer().map(String), fc.constant('null'), fc.constant('[]'))
            .map((v) => withId(v, `id=${v}`)),
        );
      arb = fc.oneof(...variants);
      break;
    }
    case 'huge numbers': {
      const huge = fc.oneof(
        pick([1e308, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER, 2 ** 31, 1e21, -1e308, 99999999999999999999]),
        fc.double({ min: 1e11, max: 1e300, noNaN: true }),
      );
      const numericFields = t.numeric.length ? t.numeric : fields;
      arb = fc.oneof(
        pick(numericFields).chain((f) => huge.map((v) => make(spoilField(t, f, v), `${f}=${v}`))),
        // Raw JSON numbers that overflow a double: parsed as Infinity.
        ...(isQuery
          ? []
          : [
              pick(numericFields).map((f) => ({
                path: t.path,
                rawBody: JSON.stringify({ ...t.valid, [f]: 0 }).replace(`"${f}":0`, `"${f}":1e999`),
                label: `${f}=1e999`,
              })),
            ]),
      );
      break;
    }
    case 'negative and fractional quantities': {
      const bad = fc.oneof(
        fc.integer({ min: -1_000_000, max: -1 }),
        fc
          .double({ min: -1000, max: 1000, noNaN: true, noDefaultInfinity: true })
          .filter((v) => !Number.isInteger(v)),
        pick([-0.5, 0.5, 1.5, 2.0000001, -1, 0.001]),
      );
      const numericFields = t.numeric.length ? t.numeric : fields;
      arb = pick(numericFields).chain((f) => bad.map((v) => make(spoilField(t, f, v), `${f}=${v}`)));
      break;
    }
    case 'overlong strings': {
      const stringFields = fields.filter((f) => typeof t.valid[f] === 'string');
      const fieldsToSpoil = stringFields.length ? stringFields : fields;
      arb = fc.oneof(
        ...(fieldsToSpoil.length === 0
          ? []
          : [
              pick(fieldsToSpoil).chain((f) =>
                fc
                  .integer({ min: 260, max: isQuery ? 12_000 : 60_000 })
                  .map((n) => make(spoilField(t, f, 'x'.repeat(n)), `${f} of ${n} chars`)),
              ),
            ]),
        ...(isQuery || fields.length === 0
          ? []
          : [
              fc
                .integer({ min: 110_000, max: 300_000 })
                .map((n) =>
                  bodyCase(spoilField(t, fields[0]!, 'y'.repeat(n)), `body of ${n} bytes (over the limit)`),
                ),
            ]),
        ...(t.id
          ? [fc.integer({ min: 100, max: 5000 }).map((n) => withId('z'.repeat(n), `id of ${n} chars`))]
          : []),
      );
      break;
    }
    case 'unknown fields':
      arb = fc
        .oneof(
          pick(['role', 'isAdmin', 'stock', 'status', 'memberId', 'id', 'price', 'constructor', 'prototype']),
          fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !fields.includes(k)),
        )
        .filter((k) => !fields.includes(k))
        .chain((k) => fc.jsonValue().map((v) => make({ ...t.valid, [k]: v }, `+${k}`)));
      if (!isQuery)
        arb = fc.oneof(
          arb,
          fc.constant({
            path: t.path,
            rawBody: JSON.stringify(t.valid).replace(/^\{/, '{"__proto__":{"role":"admin"},'),
            label: '+__proto__',
          }),
        );
      break;
    case 'SQL and script payloads': {
      const payload = fc.oneof(
        pick(SQL_AND_SCRIPT),
        fc.tuple(pick(SQL_AND_SCRIPT), fc.string({ maxLength: 8 })).map(([a, b]) => a + b),
      );
      const variants: fc.Arbitrary<Omit<Case, 'family' | 'target'>>[] = [];
      if (t.formatted.length > 0)
        variants.push(
          pick(t.formatted).chain((f) =>
            payload
              .filter((p) => !t.allowed?.test(`${t.valid[f]}${p}`))
              .map((p) => {
                const valid = t.valid[f];
                return make(
                  spoilField(t, f, typeof valid === 'string' ? `${valid}${p}` : p),
                  `${f}+=${JSON.stringify(p)}`,
                );
              }),
          ),
        );
      if (t.id) variants.push(payload.map((p) => withId(p, `id=${JSON.stringify(p)}`)));
      if (t.headers?.['idempotency-key'])
        variants.push(
          payload.map((p) => ({
            ...make(t.valid, `Idempotency-Key=${JSON.stringify(p)}`),
            headers: { 'idempotency-key': `${encodeURIComponent(p)}'` },
          })),
        );
      arb = fc.oneof(...variants);
      break;
    }
  }
  return fc
    .sample(arb, { numRuns: runs, seed })
    .map((c) => ({ family, target: t, headers: t.headers, ...c }));
}
