import type { ServerResponse } from 'node:http';
import type { Pool } from 'pg';
import { TOKEN_TTL_SECONDS } from './signing-keys';

/** Every token of `sub` signed with a `ver` claim below `ver` is revoked. */
export interface Revocation {
  sub: string;
  ver: number;
}

/**
 * How long a gateway must remember a revocation: one token lifetime (every token signed before it has expired by
 * then), plus five minutes for clocks that disagree.
 */
export const REMEMBER_SECONDS = TOKEN_TTL_SECONDS + 300;

// Gateways treat a stream silent for much longer than this as dead (the distributor's watch uses the same pace).
const PING_MS = 15_000;

interface Stream {
  res: ServerResponse;
  /** Revocations announced while the snapshot was being read; sent right after it. */
  pending: Revocation[] | null;
}

const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/**
 * The revocations this instance makes, pushed to every gateway that watches it (`GET /internal/revocations/watch`,
 * Server-Sent Events). A gateway watches every member instance it sees in the registry, so between them it hears of
 * every revocation; the first event of each stream is a snapshot read from the database (shared by every instance),
 * so a gateway that starts or reconnects later still learns what it missed. Works the same with or without Redis.
 */
export class RevocationFeed {
  private readonly streams = new Set<Stream>();
  private readonly ping: NodeJS.Timeout;

  constructor(private readonly db: Pool) {
    this.ping = setInterval(() => {
      for (const s of this.streams) if (s.pending === null) s.res.write(': ping\n\n');
    }, PING_MS).unref();
  }

  /** Called once the UPDATE that raised the member's token_version has committed. */
  announce(revocation: Revocation): void {
    const data = frame('revoke', revocation);
    for (const s of this.streams) {
      if (s.pending !== null) s.pending.push(revocation);
      else s.res.write(data);
    }
  }

  /** Serves one watcher until it goes away. Throws (before anything is written) if the database cannot be read. */
  async serve(res: ServerResponse): Promise<void> {
    const stream: Stream = { res, pending: [] };
    this.streams.add(stream);
    res.on('close', () => this.streams.delete(stream));
    let recent: Revocation[];
    try {
      recent = await this.recent();
    } catch (err) {
      this.streams.delete(stream);
      throw err;
    }
    if (res.destroyed) return;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    });
    res.write(frame('snapshot', { revocations: recent, rememberSeconds: REMEMBER_SECONDS }));
    const pending = stream.pending ?? [];
    stream.pending = null;
    for (const r of pending) res.write(frame('revoke', r));
  }

  /** Ends every stream (shutdown): gateways go on with the other instances' streams. */
  close(): void {
    clearInterval(this.ping);
    for (const s of this.streams) s.res.end();
    this.streams.clear();
  }

  /** Members whose tokens were revoked within REMEMBER_SECONDS, with their current token_version. */
  private async recent(): Promise<Revocation[]> {
    const { rows } = await this.db.query<{ id: string; token_version: number }>(
      `SELECT id, token_version FROM members
        WHERE tokens_revoked_at > now() - $1 * interval '1 second'`,
      [REMEMBER_SECONDS],
    );
    return rows.map((r) => ({ sub: r.id, ver: r.token_version }));
  }
}
