import type http from 'node:http';

/**
 * Stops accepting, lets in-flight requests finish, and closes what is left after `timeoutMs`.
 * Idle keep-alive sockets are closed at once so clients move to another instance straight away.
 */
export async function closeServer(server: http.Server, timeoutMs: number): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // Sockets that finish their current request are closed instead of going back to idle.
  const idleSweep = setInterval(() => server.closeIdleConnections(), 50);
  const deadline = new Promise<'timeout'>((resolve) =>
    setTimeout(() => resolve('timeout'), timeoutMs).unref(),
  );
  const result = await Promise.race([closed.then(() => 'closed' as const), deadline]);
  clearInterval(idleSweep);
  if (result === 'timeout') {
    server.closeAllConnections();
    await closed;
  }
}
