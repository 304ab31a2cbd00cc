// Pushes the registry to its watchers as Server-Sent Events: the whole registry on connect (`snapshot`),
// then every change (`up`, `down`, `stats`) as the store reports it.
import type { ServerResponse } from 'node:http';
import type { RegistryEvent, RegistryStore } from './store';

export interface WatchHubOptions {
  pingMs?: number;
  // A watcher that stops reading is dropped once this much is queued for it beyond its snapshot:
  // it reconnects and takes a fresh snapshot, rather than making the distributor buffer forever.
  maxBufferedBytes?: number;
}

interface Watcher {
  res: ServerResponse;
  // Changes that arrive while the snapshot is being read; sent after it, those it does not already hold.
  pending: RegistryEvent[] | null;
  dropAbove: number;
}

export class WatchHub {
  // Watchers are taken from start() until stop().
  accepting = false;
  private readonly watchers = new Set<Watcher>();
  private readonly pingMs: number;
  private readonly maxBufferedBytes: number;
  private pingTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: RegistryStore,
    options: WatchHubOptions = {},
  ) {
    this.pingMs = options.pingMs ?? 15_000;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
  }

  get size(): number {
    return this.watchers.size;
  }

  start(): void {
    this.accepting = true;
    this.store.events.on('change', this.onChange);
    this.store.events.on('resync', this.closeAll);
    // A comment line keeps proxies from closing a quiet stream.
    this.pingTimer = setInterval(() => {
      for (const watcher of this.watchers) if (!watcher.pending) this.send(watcher, ': ping\n\n');
    }, this.pingMs).unref();
  }

  stop(): void {
    this.accepting = false;
    this.store.events.off('change', this.onChange);
    this.store.events.off('resync', this.closeAll);
    clearInterval(this.pingTimer);
    this.closeAll();
  }

  // Serves one watcher until it goes away. Throws (before anything is written) if the store cannot be read.
  async connect(res: ServerResponse): Promise<void> {
    const watcher: Watcher = { res, pending: [], dropAbove: Infinity };
    this.watchers.add(watcher);
    res.on('close', () => this.watchers.delete(watcher));

    let snapshot;
    try {
      snapshot = await this.store.snapshot();
    } catch (err) {
      this.watchers.delete(watcher);
      throw err;
    }
    if (res.destroyed) return;

    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no', // nginx: pass events on at once
    });
    const first = frame('snapshot', {
      revision: snapshot.revision,
      leaseMs: this.store.leaseMs,
      instances: snapshot.instances,
    });
    watcher.dropAbove = Buffer.byteLength(first) + this.maxBufferedBytes;
    this.send(watcher, first);
    const pending = watcher.pending ?? [];
    watcher.pending = null;
    for (const event of pending) {
      if (event.type === 'stats' || event.revision > snapshot.revision) this.sendEvent(watcher, event);
    }
  }

  private readonly onChange = (event: RegistryEvent): void => {
    for (const watcher of this.watchers) {
      if (watcher.pending) watcher.pending.push(event);
      else this.sendEvent(watcher, event);
    }
  };

  // Ends every stream; each watcher reconnects (here or to another replica) and takes a fresh snapshot.
  readonly closeAll = (): void => {
    for (const watcher of this.watchers) watcher.res.end();
    this.watchers.clear();
  };

  private sendEvent(watcher: Watcher, { type, ...data }: RegistryEvent): void {
    this.send(watcher, frame(type, data));
  }

  private send(watcher: Watcher, chunk: string): void {
    if (watcher.res.destroyed) return;
    watcher.res.write(chunk);
    if (watcher.res.writableLength > watcher.dropAbove) {
      this.watchers.delete(watcher);
      watcher.res.destroy();
    }
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
