import Redis from 'ioredis';
import type { Logger } from 'pino';

export type { Redis };

/**
 * An ioredis client that fails fast while Redis is away (no offline queue, one retry), so a
 * request that needs Redis gets an error in milliseconds instead of hanging, and that reconnects
 * in the background forever, so Redis coming back needs no restart.
 */
export function createRedis(url: string, logger: Logger, name = 'redis'): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  });
  let down = false;
  redis.on('error', (err) => {
    if (!down) logger.warn({ err: err.message, client: name }, 'redis unreachable');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.info({ client: name }, 'redis reachable again');
    down = false;
  });
  return redis;
}

/** Connects, but a Redis that is down at start does not stop the service: the client keeps retrying. */
export async function connectRedis(redis: Redis): Promise<boolean> {
  try {
    await redis.connect();
    return true;
  } catch {
    return false;
  }
}
