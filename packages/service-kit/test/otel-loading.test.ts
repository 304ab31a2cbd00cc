import { execFileSync } from 'node:child_process';
import path from 'node:path';

// A fresh process each, requiring the built kit as a service's main.ts does: what it loads is what production
// loads (Jest's own module registry would hide it).
const KIT = path.join(__dirname, '..', 'dist', 'index.js');

function probe(env: Record<string, string | undefined>): { otel: string[]; pgPatched: boolean } {
  const script = `
    require(${JSON.stringify(KIT)});
    const pg = require('pg');
    const otel = Object.keys(require.cache).filter((k) => k.includes('@opentelemetry'));
    // @opentelemetry/api is not the SDK: prom-client requires it when installed (exemplars), a few KB, inert.
    const names = [...new Set(otel.map((k) => k.split('@opentelemetry/')[1].split('/')[0]))]
      .filter((n) => n !== 'api')
      .sort();
    process.stdout.write(JSON.stringify({ otel: names, pgPatched: Boolean(pg.Client.prototype.query.__wrapped) }));
  `;
  const clean = { ...process.env };
  delete clean.OTEL_EXPORTER_OTLP_ENDPOINT;
  delete clean.OTEL_SDK_DISABLED;
  const out = execFileSync(process.execPath, ['-e', script], { env: { ...clean, ...env }, encoding: 'utf8' });
  return JSON.parse(out) as { otel: string[]; pgPatched: boolean };
}

describe('the OpenTelemetry SDK loads only when asked for', () => {
  it('when OTEL_EXPORTER_OTLP_ENDPOINT is unset, then no @opentelemetry module is loaded and pg is untouched', () => {
    expect(probe({})).toEqual({ otel: [], pgPatched: false });
  });

  it('when OTEL_SDK_DISABLED=true, then nothing loads even with an endpoint', () => {
    expect(probe({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_SDK_DISABLED: 'true' })).toEqual({
      otel: [],
      pgPatched: false,
    });
  });

  it('when it is set, then the instrumentations are in place before pg is first required', () => {
    const seen = probe({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' });
    expect(seen.pgPatched).toBe(true);
    expect(seen.otel).toEqual(
      expect.arrayContaining(['instrumentation-http', 'instrumentation-pg', 'instrumentation-ioredis']),
    );
  });

  it('when OTEL_NODE_ENABLED_INSTRUMENTATIONS=http, then pg is left alone', () => {
    const seen = probe({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1',
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
    });
    expect(seen.pgPatched).toBe(false);
    expect(seen.otel).toContain('instrumentation-http');
  });
});
