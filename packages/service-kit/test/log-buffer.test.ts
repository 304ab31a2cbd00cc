import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bufferedStdout, createLogger } from '../src';

describe('a buffered log destination', () => {
  let dir: string;
  let fd: number;
  let file: string;
  let dest: ReturnType<typeof bufferedStdout> | undefined;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kit-log-buffer-'));
    file = path.join(dir, 'out.log');
    fd = openSync(file, 'a');
  });

  // The destination owns the fd: ending it stops its periodic flush and closes the fd. Closing the fd under a
  // live destination would let its next flush hit EBADF — or, once the number is reused, another file or socket
  // of this Jest worker.
  afterEach(async () => {
    if (dest) await new Promise((resolve) => dest!.once('close', resolve).end());
    dest = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const lines = () => readFileSync(file, 'utf8').split('\n').filter(Boolean);

  it('holds lines until the buffer is full, then writes them in one go, whole and in order', async () => {
    dest = bufferedStdout(fd, { bytes: 1024, flushMs: 60_000 });
    const logger = createLogger({ service: 'test', instanceId: 't', level: 'info', destination: dest });
    logger.info({ n: 0 }, 'access');
    logger.info({ n: 1 }, 'access');
    expect(lines()).toEqual([]); // under 1 KB: nothing written yet
    for (let n = 2; n < 30; n++) logger.info({ n }, 'access');
    await new Promise<void>((resolve, reject) =>
      dest!.flush((err?: Error) => (err ? reject(err) : resolve())),
    );
    const written = lines().map((l) => JSON.parse(l) as { n: number; message: string; service: string });
    expect(written.map((l) => l.n)).toEqual(Array.from({ length: 30 }, (_, n) => n));
    expect(written[0]).toMatchObject({ service: 'test', message: 'access' });
  });

  it('writes what is still buffered when flushed synchronously, as it is at exit', () => {
    dest = bufferedStdout(fd, { bytes: 4096 });
    const logger = createLogger({ service: 'test', instanceId: 't', level: 'info', destination: dest });
    logger.info('last words');
    expect(lines()).toEqual([]);
    dest.flushSync();
    expect(lines().map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['last words']);
  });
});
