// Raw HTTP over a TCP socket: what fetch would refuse to send (bad framing, odd paths, slow writers).
import net from 'node:net';
import tls from 'node:tls';

export interface RawAnswer {
  /** 0 when the server closed without an answer. */
  status: number;
  head: string;
  body: string;
  /** The server closed the connection (after answering or not). */
  closed: boolean;
}

/** Sends `request` as is and reads until the server closes or `waitMs` passes after the last byte. */
export function rawRequest(url: string, request: string | Buffer, waitMs = 1500): Promise<RawAnswer> {
  const { hostname, port, protocol } = new URL(url);
  return new Promise((resolve) => {
    const socket =
      protocol === 'https:'
        ? tls.connect({
            port: Number(port),
            host: hostname,
            rejectUnauthorized: false,
            servername: 'localhost',
          })
        : net.connect(Number(port), hostname);
    const ready = protocol === 'https:' ? 'secureConnect' : 'connect';
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head, body, closed });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(finish, waitMs);
    };
    socket.on(ready, () => {
      socket.write(request);
      arm();
    });
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      arm();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      finish();
    });
  });
}

/** A client that sends `head` one byte every `everyMs` and never finishes; returns a stopper. */
export function trickle(url: string, head: string, everyMs: number): { socket: net.Socket; stop(): void } {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  socket.on('error', () => undefined);
  let i = 0;
  const timer = setInterval(() => {
    if (i < head.length && !socket.destroyed) socket.write(head[i++]!);
  }, everyMs);
  return {
    socket,
    stop() {
      clearInterval(timer);
      socket.destroy();
    },
  };
}
