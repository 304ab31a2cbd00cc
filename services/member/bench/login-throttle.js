// Run after a build: node services/member/bench/login-throttle.js (REDIS_URL: the Redis to use; default local).
// Quick interleaved measurement: the login throttle's cost per login (admit + succeeded), memory and Redis,
// against one scrypt verification (what a login costs anyway).
const { LoginThrottle, DEFAULT_LOGIN_LIMITS } = require('../dist/domain/login-throttle');
const { verifyAgainstDummy } = require('../dist/domain/passwords');
const Redis = require('ioredis');
(async () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { enableOfflineQueue: true });
  const prefix = `bench:${process.pid}:`;
  const mem = new LoginThrottle(DEFAULT_LOGIN_LIMITS, { redis: null, keyPrefix: prefix });
  const red = new LoginThrottle(DEFAULT_LOGIN_LIMITS, { redis, keyPrefix: prefix });
  const once = async (t, i) => {
    const email = `m${i}@x.io`,
      client = `10.0.${(i >> 8) & 255}.${i & 255}`;
    const t0 = process.hrtime.bigint();
    await t.admit(email, client);
    await t.succeeded(email, client);
    return Number(process.hrtime.bigint() - t0) / 1e3;
  };
  const scrypt = async () => {
    const t0 = process.hrtime.bigint();
    await verifyAgainstDummy('x');
    return Number(process.hrtime.bigint() - t0) / 1e3;
  };
  const m = [],
    r = [],
    s = [];
  for (let i = 0; i < 200; i++) {
    await once(mem, i);
    await once(red, i);
  } // warm-up
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 50; i++) {
      m.push(await once(mem, round * 50 + i + 1000));
      r.push(await once(red, round * 50 + i + 1000));
    }
    s.push(await scrypt());
  }
  const med = (xs) => {
    const a = [...xs].sort((x, y) => x - y);
    return a[a.length >> 1];
  };
  console.log(
    `throttle per login (admit+succeeded), median µs: memory ${med(m).toFixed(0)}, redis ${med(r).toFixed(0)}; one scrypt ${med(s).toFixed(0)} µs; ratio redis/scrypt ${((med(r) / med(s)) * 100).toFixed(2)} %`,
  );
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
})();
