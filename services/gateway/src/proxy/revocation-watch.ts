import { INTERNAL_TOKEN_HEADER, SseParser, backoff, sleep } from '@msa/service-kit';
import type { Logger } from 'pino';
import type { RegistryView } from './registry-view';
import type { Revocations } from './revocations';

// Member pings every 15 s; a stream silent for longer than this is dead even if TCP has not noticed.
const IDLE_TIMEOUT_MS = 40_000;
// A member instance without the stream (an older version during a rolling upgrade) is asked again this rarely.
const NOT_SUPPORTED_RETRY_MS = 30_000;
export const REVOCATIONS_PATH = '/internal/revocations/watch';

export interface RevocationWatchOptions {
  registry: RegistryView;
  revocations: Revocations;
  /** Signs the internal token the member service asks for (the kit's ctx.tokens). */
  sign: () => Promise<string>;
  logger: Logger;
  service?: string;
}

/**
 * Keeps `revocations` current from the member service: one Server-Sent Events stream to every member instance the
 * registry lists (each pushes the revocations it makes; each stream starts with a snapshot of recent ones read from
 * the shared database). No Redis needed, so `npm start`'s embedded defaults and Compose behave alike; a revocation
 * reaches every gateway replica as soon as member has written it.
 *
 * When a stream breaks, the last known state is kept and the stream is reopened with backoff; its snapshot brings
 * back whatever was missed (see docs/security.md, "Token revocation", for why this fails open once loaded).
 */
export class RevocationWatch {
  private readonly streams = new Map<string, InstanceStream>();
  private readonly service: string;
  private closed = false;

  constructor(private readonly opts: RevocationWatchOptions) {
    this.service = opts.service ?? 'member';
    opts.registry.on('change', this.sync);
    this.sync();
  }

  /** How many member instances a stream is open to right now. */
  get connected(): number {
    let n = 0;
    for (const s of this.streams.values()) if (s.open) n++;
    return n;
  }

  private readonly sync = (): void => {
    if (this.closed) return;
    const instances = this.opts.registry.services().get(this.service) ?? [];
    const seen = new Set<string>();
    for (const inst of instances) {
      seen.add(inst.instanceId);
      const current = this.streams.get(inst.instanceId);
      if (current !== undefined && current.address === inst.address) continue;
      current?.stop();
      this.streams.set(inst.instanceId, new InstanceStream(inst.address, this.opts));
    }
    for (const [id, stream] of this.streams) {
      if (seen.has(id)) continue;
      stream.stop();
      this.streams.delete(id);
    }
  };

  close(): void {
    this.closed = true;
    this.opts.registry.off?.('change', this.sync);
    for (const stream of this.streams.values()) stream.stop();
    this.streams.clear();
  }
}

class NotSupported extends Error {}

/** One member instance's stream, reopened until stopped. */
class InstanceStream {
  open = false;
  private stopped = false;
  private abort = new AbortController();

  constructor(
    readonly address: string,
    private readonly opts: RevocationWatchOptions,
  ) {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }

  private async loop(): Promise<void> {
    for (let attempt = 0; !this.stopped;) {
      let wait: number;
      try {
        await this.stream(() => (attempt = 0));
        wait = backoff(attempt++, 100, 5000);
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof NotSupported) {
          wait = NOT_SUPPORTED_RETRY_MS;
        } else {
          if (attempt === 0) {
            this.opts.logger.warn(
              { instance: this.address, err: (err as Error).message },
              'revocation stream to member lost; keeping what is known and reconnecting',
            );
          }
          wait = backoff(attempt++, 100, 5000);
        }
      }
      this.open = false;
      await sleep(wait);
    }
  }

  private async stream(onOpen: () => void): Promise<void> {
    this.abort = new AbortController();
    const res = await fetch(new URL(REVOCATIONS_PATH, this.address), {
      headers: { [INTERNAL_TOKEN_HEADER]: await this.opts.sign(), accept: 'text/event-stream' },
      signal: this.abort.signal,
    });
    if (res.status === 404) {
      // A member version that revokes nothing: there is nothing to wait for.
      await res.body?.cancel();
      this.opts.revocations.markLoaded();
      throw new NotSupported();
    }
    if (res.status !== 200 || !res.body) {
      await res.body?.cancel();
      throw new Error(`revocation stream answered ${res.status}`);
    }
    this.open = true;
    onOpen();
    const parser = new SseParser((ev) => this.onEvent(ev));
    const decoder = new TextDecoder();
    let idle = setTimeout(() => this.abort.abort(), IDLE_TIMEOUT_MS);
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        clearTimeout(idle);
        idle = setTimeout(() => this.abort.abort(), IDLE_TIMEOUT_MS);
        parser.push(decoder.decode(chunk, { stream: true }));
      }
    } finally {
      clearTimeout(idle);
    }
    throw new Error('revocation stream ended');
  }

  private onEvent({ event, data }: { event: string; data: string }): void {
    let msg: unknown;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    const revocations = this.opts.revocations;
    if (event === 'revoke') {
      const r = asRevocation(msg);
      if (r !== null) revocations.revoke(r.sub, r.ver);
    } else if (event === 'snapshot') {
      const snap = msg as { revocations?: unknown; rememberSeconds?: unknown };
      const list = Array.isArray(snap.revocations) ? snap.revocations.map(asRevocation) : [];
      const remember = typeof snap.rememberSeconds === 'number' ? snap.rememberSeconds * 1000 : undefined;
      revocations.load(
        list.filter((r) => r !== null),
        remember,
      );
    }
  }
}

function asRevocation(value: unknown): { sub: string; ver: number } | null {
  const r = value as { sub?: unknown; ver?: unknown } | null;
  if (r === null || typeof r !== 'object') return null;
  if (typeof r.sub !== 'string' || !Number.isInteger(r.ver)) return null;
  return { sub: r.sub, ver: r.ver as number };
}
