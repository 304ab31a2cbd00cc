import { processLabel } from '../src/footprint';

describe('processLabel', () => {
  it('names the start script (which runs the runner), the services and the embedded database servers', () => {
    expect(processLabel(['/usr/bin/node', '/repo/scripts/start.mjs', '--root', '/tmp/x'])).toBe(
      'npm start (start script and runner)',
    );
    expect(processLabel(['/usr/bin/node', '/tmp/x/services/purchase/dist/main.js'])).toBe('purchase');
    const server = ['/usr/bin/node', '/repo/packages/runner/dist/pglite-server.js', '--name'];
    expect(processLabel([...server, 'databases', '--database', 'member=/d'])).toBe('databases (PGlite)');
    expect(processLabel([...server.slice(0, 2), '--init-only', '/d'])).toBe('initdb (short-lived)');
    expect(processLabel(['/usr/bin/turbo', 'run', 'build'])).toBe('turbo');
  });
});
