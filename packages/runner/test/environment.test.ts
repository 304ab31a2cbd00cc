import { readSettings, serviceEnv } from '../src/environment';
import { UsageError } from '../src/services';

const parent = { PATH: '/bin', PORT: '3000', DATABASE_URL: 'postgres://elsewhere/db', HOME: '/home/me' };

describe('the environment of every child', () => {
  test('when nothing is set, then the embedded defaults and a fresh secret per run are used', () => {
    const one = readSettings({}, '/repo');
    const two = readSettings({}, '/repo');
    expect(one).toMatchObject({
      dataDir: '/repo/.data',
      logLevel: 'info',
      distributorPort: 9000,
      gatewayPort: 8080,
      gatewayHttpsPort: 8443,
      databaseUrl: undefined,
      redisUrl: undefined,
    });
    expect(one.internalTokenSecret).toMatch(/^[\w-]{43}$/);
    expect(one.internalTokenSecret).not.toBe(two.internalTokenSecret);
  });

  test('when the runner is given ports, a secret and servers, then it uses them', () => {
    const settings = readSettings(
      {
        INTERNAL_TOKEN_SECRET: 'shared',
        LOG_LEVEL: 'debug',
        DISTRIBUTOR_PORT: '9100',
        GATEWAY_HTTP_PORT: '80',
        GATEWAY_HTTPS_PORT: '443',
        GATEWAY_ADMIN_PORT: '9191',
        DATABASE_URL: 'postgres://db/postgres',
        REDIS_URL: 'redis://cache',
      },
      '/repo',
    );
    expect(settings).toMatchObject({
      internalTokenSecret: 'shared',
      logLevel: 'debug',
      distributorPort: 9100,
      gatewayPort: 80,
      gatewayHttpsPort: 443,
      gatewayAdminPort: 9191,
      databaseUrl: 'postgres://db/postgres',
      redisUrl: 'redis://cache',
    });
  });

  test('when a port variable is not a port, then a usage error names it', () => {
    expect(() => readSettings({ GATEWAY_HTTP_PORT: 'eighty' }, '/repo')).toThrow(
      new UsageError('GATEWAY_HTTP_PORT=eighty is not a port number (0-65535)'),
    );
  });

  test('when nothing says otherwise, then the embedded databases share one process and take the lean settings', () => {
    expect(readSettings({}, '/repo')).toMatchObject({
      embeddedDbProcesses: 'one',
      embeddedDbSettings: undefined,
    });
  });

  test('when the embedded databases are configured, then per-service processes and given or stock settings are used', () => {
    const settings = readSettings(
      { EMBEDDED_DB_PROCESSES: 'per-service', EMBEDDED_DB_SETTINGS: 'shared_buffers=16MB, work_mem=2MB' },
      '/repo',
    );
    expect(settings).toMatchObject({
      embeddedDbProcesses: 'per-service',
      embeddedDbSettings: ['shared_buffers=16MB', 'work_mem=2MB'],
    });
    expect(readSettings({ EMBEDDED_DB_SETTINGS: 'stock' }, '/repo').embeddedDbSettings).toEqual([]);
  });

  test('when an embedded database variable is malformed, then a usage error names it', () => {
    expect(() => readSettings({ EMBEDDED_DB_PROCESSES: 'two' }, '/repo')).toThrow(
      new UsageError('EMBEDDED_DB_PROCESSES=two: expected one or per-service'),
    );
    expect(() => readSettings({ EMBEDDED_DB_SETTINGS: 'shared_buffers=8MB;-D /' }, '/repo')).toThrow(
      new UsageError(
        'EMBEDDED_DB_SETTINGS: "shared_buffers=8MB;-D /" is not name=value (e.g. shared_buffers=16MB)',
      ),
    );
  });

  test('when a scalable service starts, then it gets a free port, the distributor URL and its own database only', () => {
    const settings = readSettings({ INTERNAL_TOKEN_SECRET: 's', REDIS_URL: 'redis://cache' }, '/repo');
    const env = serviceEnv({ role: 'service' }, settings, parent, {
      distributorUrl: 'http://127.0.0.1:9000',
      databaseUrl: 'postgres://postgres@127.0.0.1:5433/postgres',
    });
    expect(env).toEqual({
      PATH: '/bin',
      HOME: '/home/me',
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      INTERNAL_TOKEN_SECRET: 's',
      DISTRIBUTOR_URL: 'http://127.0.0.1:9000',
      DATA_DIR: '/repo/.data',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5433/postgres',
      REDIS_URL: 'redis://cache',
      // What slack-bot links from its alerts: the gateway's status page on the port npm start gives it.
      STATUS_PAGE_URL: 'http://127.0.0.1:8080/status',
    });
  });

  test('when STATUS_PAGE_URL is set, then every child keeps it', () => {
    const env = serviceEnv(
      { role: 'service' },
      readSettings({}, '/repo'),
      { STATUS_PAGE_URL: 'https://x/status' },
      {
        distributorUrl: '',
      },
    );
    expect(env.STATUS_PAGE_URL).toBe('https://x/status');
  });

  test('when a service owns no database, then it gets no DATABASE_URL, even if the runner has one', () => {
    const env = serviceEnv({ role: 'service' }, readSettings({}, '/repo'), parent, { distributorUrl: '' });
    expect(env.DATABASE_URL).toBeUndefined();
  });

  test('when the gateway and the distributor start, then they listen on their fixed ports, the gateway admin port on loopback', () => {
    const settings = readSettings({}, '/repo');
    const gateway = serviceEnv({ role: 'gateway' }, settings, parent, {
      distributorUrl: 'http://127.0.0.1:9000',
    });
    const distributor = serviceEnv({ role: 'distributor' }, settings, parent, { distributorUrl: '' });
    expect([gateway.PORT, gateway.HTTPS_PORT]).toEqual(['8080', '8443']);
    expect([gateway.ADMIN_PORT, gateway.ADMIN_HOST]).toEqual(['9080', '127.0.0.1']);
    expect([distributor.PORT, distributor.HTTPS_PORT, distributor.DISTRIBUTOR_URL]).toEqual([
      '9000',
      undefined,
      '',
    ]);
  });
});
