import Mock from '@elastic/elasticsearch-mock';
import { errors, type ClientOptions } from '@elastic/elasticsearch';

type Op = { create?: { _index: string; _id: string }; index?: { _index: string; _id: string } };

/**
 * Elasticsearch as @elastic/elasticsearch-mock stands it in: a real client, real request bodies,
 * answers from here. Documents are kept by index and _id, create answers 409 for an id it has.
 * `failNext` makes the next calls answer with a status; `itemStatus` fails chosen items of a bulk.
 */
export function fakeElasticsearch() {
  const mock = new Mock();
  const docs = new Map<string, Record<string, unknown>>();
  const bulkBodies: unknown[][] = [];
  const templates: Array<{ name: string; body: Record<string, unknown> }> = [];
  const searches: Array<Record<string, unknown>> = [];
  const state = {
    /** Whole-request failures still to serve, e.g. [503, 503]. */
    failNext: [] as number[],
    /** Per-item status for chosen ids, consumed once each. */
    itemStatus: new Map<string, number>(),
  };
  const failing = () => {
    const status = state.failNext.shift();
    return status === undefined
      ? undefined
      : new errors.ResponseError({
          body: { error: { type: 'unavailable', reason: `status ${status}` }, status },
          statusCode: status,
          warnings: null,
          meta: {} as never,
        });
  };

  mock.add({ method: 'PUT', path: '/_index_template/:name' }, (params) => {
    const failure = failing();
    if (failure) return failure;
    templates.push({
      name: (params.path as string).split('/').pop()!,
      body: params.body as Record<string, unknown>,
    });
    return { acknowledged: true };
  });

  mock.add({ method: ['POST', 'PUT'], path: '/_bulk' }, (params) => {
    const failure = failing();
    if (failure) return failure;
    const body = params.body as unknown as Array<Op | Record<string, unknown>>;
    bulkBodies.push(body);
    const items = [];
    for (let i = 0; i < body.length; i += 2) {
      const op = (body[i] as Op).create!;
      const key = `${op._index}/${op._id}`;
      const forced = state.itemStatus.get(op._id);
      if (forced !== undefined) {
        state.itemStatus.delete(op._id);
        items.push({
          create: {
            _index: op._index,
            _id: op._id,
            status: forced,
            error: { type: 'x', reason: `forced ${forced}` },
          },
        });
      } else if (docs.has(key)) {
        items.push({
          create: {
            _index: op._index,
            _id: op._id,
            status: 409,
            error: { type: 'version_conflict_engine_exception', reason: 'exists' },
          },
        });
      } else {
        docs.set(key, body[i + 1] as Record<string, unknown>);
        items.push({ create: { _index: op._index, _id: op._id, status: 201, result: 'created' } });
      }
    }
    return { took: 1, errors: items.some((it) => it.create.status >= 300), items };
  });

  mock.add({ method: ['GET', 'POST'], path: '/:index/_search' }, (params) => {
    const body = params.body as Record<string, unknown>;
    searches.push(body);
    const hits = [...docs.entries()].map(([key, source]) => ({
      _index: key.split('/')[0],
      _id: key.split('/')[1],
      _source: source,
    }));
    return { hits: { total: { value: hits.length, relation: 'eq' }, hits } };
  });

  const options: Partial<ClientOptions> = {
    Connection: mock.getConnection() as never,
    maxRetries: 2,
  };
  return { mock, docs, bulkBodies, templates, searches, state, options };
}
