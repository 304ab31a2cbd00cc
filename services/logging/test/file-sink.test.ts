import { mkdtemp, readdir, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { toDoc, type LogDoc } from '../src/domain/log-line';
import { logQuerySchema } from '../src/domain/log-query';
import { FileSink } from '../src/sinks/file-sink';
import { MemoryQueue } from '../src/queue/memory-queue';
import { client, drained, line, startLogging } from './helpers';

const doc = (over: Record<string, unknown> = {}): LogDoc => toDoc(line(over) as never);
const query = (q: Record<string, unknown>) => logQuerySchema.parse(q);

describe('the embedded file sink (NDJSON, no Elasticsearch)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'msa-logging-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('when lines of two days are indexed, then each day has its append-only file and a request id finds both', async () => {
    const sink = new FileSink(dir);
    const a = doc({ time: '2026-11-24T23:59:59.000Z', requestId: 'r-1' });
    const b = doc({ time: '2026-11-25T00:00:01.000Z', requestId: 'r-1' });
    await sink.index([b, a, doc()]);
    expect((await readdir(dir)).sort()).toEqual(['logs-2026-11-24.ndjson', 'logs-2026-11-25.ndjson']);
    expect(
      (await readFile(path.join(dir, 'logs-2026-11-24.ndjson'), 'utf8')).trim().split('\n'),
    ).toHaveLength(1);
    expect((await sink.search(query({ requestId: 'r-1' }))).map((d) => d.id)).toEqual([a.id, b.id]);
  });

  it('when a batch is replayed, then no line is written twice', async () => {
    const sink = new FileSink(dir);
    const lines = [doc({ requestId: 'r-2' }), doc({ requestId: 'r-2' })];
    await sink.index(lines);
    await sink.index(lines);
    expect(await sink.search(query({ requestId: 'r-2' }))).toHaveLength(2);
    // A new process (no memory of what it wrote) appending again: the search still shows each id once.
    await new FileSink(dir).index(lines);
    expect(await sink.search(query({ requestId: 'r-2' }))).toHaveLength(2);
  });

  it('when the newest lines are asked with a limit, then they come newest first from the newest file, a torn line skipped', async () => {
    const sink = new FileSink(dir);
    await sink.index([doc({ time: '2026-11-20T10:00:00.000Z', message: 'old' })]);
    await sink.index([
      doc({ time: '2026-11-21T10:00:00.000Z', message: 'new 1' }),
      doc({ time: '2026-11-21T11:00:00.000Z', message: 'new 2' }),
    ]);
    await appendFile(path.join(dir, 'logs-2026-11-21.ndjson'), '{"id":"torn","ti');
    const newest = await sink.search(query({ limit: 2 }));
    expect(newest.map((d) => d.message)).toEqual(['new 2', 'new 1']);
    const oldOnly = await sink.search(query({ to: '2026-11-20T23:00:00Z' }));
    expect(oldOnly.map((d) => d.message)).toEqual(['old']);
  });

  it('when files are older than the retention, then they are removed at start', async () => {
    await writeFile(path.join(dir, 'logs-2000-01-01.ndjson'), '');
    await writeFile(path.join(dir, 'notes.txt'), 'kept');
    const sink = new FileSink(dir, 7);
    await sink.search(query({}));
    expect((await readdir(dir)).sort()).toEqual(['notes.txt']);
  });

  it('when the service runs on the file sink, then a request id is searchable through the API', async () => {
    const svc = await startLogging({ DATA_DIR: dir, REDIS_URL: undefined });
    try {
      const call = client(svc.url);
      const lines = [line({ requestId: 'via-api', service: 'gateway' }), line({ requestId: 'via-api' })];
      expect((await call('POST', '/internal/logs', { body: { lines } })).status).toBe(202);
      await drained(svc);
      const res = await call('GET', '/internal/logs?requestId=via-api');
      expect(res.body.items.map((d: { service: string }) => d.service)).toEqual(['gateway', 'product']);
      expect((await call('GET', '/internal/logs/stats')).body).toMatchObject({
        sink: 'file',
        queue: 'memory',
        indexed: 2,
      });
    } finally {
      await svc.stop();
    }
  });
});

describe('the memory queue (no Redis)', () => {
  it('when it is full, then add refuses (the sender keeps its lines) and nothing is half added', async () => {
    const q = new MemoryQueue(3);
    await q.add([doc(), doc()]);
    await expect(q.add([doc(), doc()])).rejects.toThrow(/full/);
    expect(await q.depth()).toBe(2);
  });

  it('when lines are handed out and not acknowledged, then they are handed out again', async () => {
    const q = new MemoryQueue(10);
    const d = doc();
    await q.add([d]);
    const first = await q.next(10);
    expect((await q.next(10)).map((e) => e.doc.id)).toEqual([d.id]);
    await q.ack(first.map((e) => e.key));
    expect(await q.depth()).toBe(0);
  });
});
