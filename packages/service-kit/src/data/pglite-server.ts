/**
 * PGlite (one Postgres session, in WebAssembly) served over the Postgres wire protocol to many
 * connections, so the ordinary `pg` pool of several processes can share it.
 *
 * One session means the connections take turns, and a turn must be a whole unit of the protocol:
 * - a request is every message a connection sends up to its Sync ('S') or simple Query ('Q'); it runs
 *   in one go, so one connection's Parse/Bind/Execute can never be split by another's (pglite-socket
 *   queued single messages, which let a Bind meet another connection's statement: "portal does not
 *   exist", or a statement run with someone else's parameters);
 * - a connection inside an explicit transaction (BEGIN … COMMIT) keeps the engine until it ends: the
 *   others wait, as they would for row locks on a real server, only for everything;
 * - a connection that leaves inside its transaction has it rolled back, and one that holds the engine
 *   idle for longer than `idleInTransactionMs` is cut off (Postgres's
 *   idle_in_transaction_session_timeout), so a stopped or frozen client cannot stall the rest;
 * - an engine error ends that connection only: the turn is released whatever happens.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * What the server uses of a PGlite instance, written out: the package ships separate ESM and CommonJS
 * type declarations, and a PGlite from one is not assignable to the other's class type.
 */
export interface PgliteEngine {
  runExclusive<T>(fn: () => Promise<T>): Promise<T>;
  execProtocolRawStream(
    message: Uint8Array,
    options: { onRawData: (data: Uint8Array) => void },
  ): Promise<void>;
  isInTransaction(): boolean;
  exec(query: string): Promise<unknown>;
}

export interface PgliteServerOptions {
  host?: string;
  port?: number;
  /** Connections beyond this are answered "too many connections" (SQLSTATE 53300). */
  maxConnections?: number;
  /** How long a connection may hold the engine (open transaction) without sending anything. */
  idleInTransactionMs?: number;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
const SYNC = Uint8Array.of(0x53, 0, 0, 0, 4);

/** A turn's worth of messages; `flush` when it ended on a Flush, so the request goes on after it. */
interface Request {
  bytes: Buffer;
  flush: boolean;
}

/** One connection: its unparsed bytes, the requests it has ready, and whether it is still there. */
interface Connection {
  socket: Socket;
  buffer: Buffer;
  started: boolean;
  /** Messages of the request being received (up to its Sync or Query). */
  partial: Buffer[];
  ready: Request[];
  closed: boolean;
  /** The engine is mid-request for it (a Flush ended its last turn before a Sync). */
  midRequest: boolean;
}

export class PgliteServer {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  /** Every open socket, the refused ones included, so stop() can cut them all. */
  private readonly sockets = new Set<Socket>();
  /** Connections with requests waiting, in arrival order. */
  private readonly waiting: Connection[] = [];
  /** The connection holding the engine between turns (open transaction or unfinished request). */
  private owner: Connection | null = null;
  private ownerIdle: NodeJS.Timeout | null = null;
  private ownerIdleFor: Connection | null = null;
  private running = false;
  private readonly maxConnections: number;
  private readonly idleInTransactionMs: number;

  constructor(
    private readonly db: PgliteEngine,
    private readonly options: PgliteServerOptions = {},
  ) {
    this.maxConnections = options.maxConnections ?? 100;
    this.idleInTransactionMs = options.idleInTransactionMs ?? 30_000;
    this.server = createServer((socket) => this.accept(socket));
  }

  /** Listens; resolves with the port (0 in the options picks a free one). */
  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops listening and cuts every connection; the caller closes the database after. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
    // Let a turn in progress finish before the database is closed under it.
    for (let i = 0; i < 100 && this.running; i++) await new Promise((r) => setTimeout(r, 10));
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.connections.size >= this.maxConnections) {
      socket.on('error', () => socket.destroy());
      socket.end(errorResponse('53300', 'sorry, too many clients already'));
      return;
    }
    const conn: Connection = {
      socket,
      buffer: Buffer.alloc(0),
      started: false,
      partial: [],
      ready: [],
      closed: false,
      midRequest: false,
    };
    this.connections.add(conn);
    socket.on('data', (chunk: Buffer) => this.receive(conn, chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.leave(conn));
  }

  /** Splits the bytes into messages and queues each complete request. */
  private receive(conn: Connection, chunk: Buffer): void {
    conn.buffer = conn.buffer.length === 0 ? chunk : Buffer.concat([conn.buffer, chunk]);
    while (!conn.closed) {
      if (!conn.started) {
        // Start-up messages have no type byte: length, then a code.
        if (conn.buffer.length < 8) return;
        const length = conn.buffer.readInt32BE(0);
        if (conn.buffer.length < length) return;
        const code = conn.buffer.readInt32BE(4);
        const message = conn.buffer.subarray(0, length);
        conn.buffer = conn.buffer.subarray(length);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          conn.socket.write('N'); // no encryption on loopback; the client goes on in plain text
        } else if (code === CANCEL_REQUEST) {
          conn.socket.destroy(); // one session: there is no other backend to cancel
        } else if (code === PROTOCOL_3) {
          conn.started = true;
          this.queue(conn, { bytes: Buffer.from(message), flush: false });
        } else {
          conn.socket.end(errorResponse('08P01', `unsupported frontend protocol ${code}`));
        }
        continue;
      }
      if (conn.buffer.length < 5) return;
      const length = 1 + conn.buffer.readInt32BE(1);
      if (conn.buffer.length < length) return;
      const type = String.fromCharCode(conn.buffer[0]!);
      const message = conn.buffer.subarray(0, length);
      conn.buffer = conn.buffer.subarray(length);
      if (type === 'X') {
        conn.socket.end(); // Terminate: 'close' rolls back whatever it left open
        return;
      }
      conn.partial.push(Buffer.from(message));
      // Sync and Query end a request; Flush asks for the answers so far, so it ends a turn too.
      if (type === 'S' || type === 'Q' || type === 'H') {
        this.queue(conn, { bytes: Buffer.concat(conn.partial), flush: type === 'H' });
        conn.partial = [];
      }
    }
  }

  private queue(conn: Connection, request: Request): void {
    conn.ready.push(request);
    if (conn.ready.length === 1) this.waiting.push(conn);
    if (conn === this.owner) this.clearOwnerIdle();
    void this.drain();
  }

  /** Runs turns one at a time until nothing can run. */
  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        const conn = this.next();
        if (conn === undefined) break;
        const request = conn.ready.shift()!;
        if (conn.ready.length > 0) this.waiting.push(conn);
        await this.turn(conn, request);
      }
    } finally {
      this.running = false;
    }
    if (this.owner !== null && this.owner.ready.length === 0) this.armOwnerIdle(this.owner);
  }

  /** The owner's next request if it holds the engine, else the longest waiting connection's. */
  private next(): Connection | undefined {
    if (this.owner !== null) {
      if (this.owner.ready.length === 0) return undefined;
      const at = this.waiting.indexOf(this.owner);
      if (at !== -1) this.waiting.splice(at, 1);
      return this.owner;
    }
    return this.waiting.shift();
  }

  private async turn(conn: Connection, request: Request): Promise<void> {
    try {
      await this.db.runExclusive(() =>
        this.db.execProtocolRawStream(request.bytes, {
          onRawData: (data) => {
            if (!conn.closed) conn.socket.write(Buffer.from(data));
          },
        }),
      );
    } catch (err) {
      conn.socket.destroy(err as Error);
      conn.closed = true;
    }
    conn.midRequest = request.flush;
    const holds = conn.midRequest || this.db.isInTransaction();
    if (conn.closed) {
      if (this.owner === conn || holds) await this.release(conn);
    } else {
      this.owner = holds ? conn : null;
    }
  }

  /** A connection left: forget its requests; if it held the engine, end what it left open. */
  private leave(conn: Connection): void {
    conn.closed = true;
    this.connections.delete(conn);
    conn.ready = [];
    const at = this.waiting.indexOf(conn);
    if (at !== -1) this.waiting.splice(at, 1);
    if (this.owner === conn && !this.running) {
      void this.release(conn).then(() => this.drain());
    }
    // While a turn runs, turn() sees the connection closed and releases it itself.
  }

  private async release(conn: Connection): Promise<void> {
    this.clearOwnerIdle();
    try {
      await this.db.runExclusive(async () => {
        if (conn.midRequest) await this.db.execProtocolRawStream(SYNC, { onRawData: () => {} });
      });
      if (this.db.isInTransaction()) await this.db.exec('ROLLBACK');
    } catch {
      // Nothing more can be done for a broken session; the next turn reports its own error.
    } finally {
      conn.midRequest = false;
      if (this.owner === conn) this.owner = null;
    }
  }

  /** Started once per idle stretch: other connections' arrivals must not push the deadline back. */
  private armOwnerIdle(conn: Connection): void {
    if (this.ownerIdleFor === conn) return;
    this.clearOwnerIdle();
    this.ownerIdleFor = conn;
    this.ownerIdle = setTimeout(() => {
      conn.socket.end(
        errorResponse('25P03', 'terminating connection due to idle-in-transaction timeout', 'FATAL'),
      );
      conn.socket.destroy();
    }, this.idleInTransactionMs);
    this.ownerIdle.unref();
  }

  private clearOwnerIdle(): void {
    if (this.ownerIdle !== null) clearTimeout(this.ownerIdle);
    this.ownerIdle = null;
    this.ownerIdleFor = null;
  }
}

/** An ErrorResponse message (severity, SQLSTATE, text), as a server sends it before closing. */
function errorResponse(code: string, message: string, severity = 'FATAL'): Buffer {
  const fields = Buffer.concat([
    Buffer.from(`S${severity}\0V${severity}\0C${code}\0M${message}\0`, 'utf8'),
    Buffer.from([0]),
  ]);
  const header = Buffer.alloc(5);
  header.write('E', 0);
  header.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([header, fields]);
}

// The runner's embedded-database process loads this entry (`@msa/service-kit/pglite-server`), not the whole kit;
// it takes over a data folder whose owner process is gone.
export { processAlive } from '../lifecycle/process-alive';
