// The registry in Redis, shared by every distributor replica on it and kept over restarts.
//
//   <prefix>records     hash    instanceId → the record as registered (JSON)
//   <prefix>heartbeats  hash    instanceId → {service, lastHeartbeatAt, stats?} (JSON; the part heartbeats change)
//   <prefix>leases      zset    instanceId scored by its lease's expiry (ms): the sweep reads the oldest first
//   <prefix>revision    string  INCR'd by every change
//   <prefix>events      channel every change as its watch event (JSON); each replica pushes them to its watchers
//
// Every change runs as one Lua script: the change, its revision and its event are atomic, so the events on the
// channel come in revision order, and of two replicas sweeping the same expired lease only one removes it and
// publishes its `down`. Records are split from heartbeats so that Lua never re-encodes a record (its JSON
// library would turn an empty `routes: []` into `{}`).
import { EventEmitter } from 'node:events';
import type Redis from 'ioredis';
import type { InstanceRecord, InstanceRegistration, InstanceStats } from './schemas';
import {
  byServiceThenId,
  SWEEP_LIMIT,
  type RegistryEvent,
  type RegistryStore,
  type StoreEvents,
  type StoreOptions,
} from './store';

// Every script gets KEYS = records, heartbeats, leases, revision and ARGV[1] = the events channel.
const REGISTER = `
local id, record, heartbeat, expiresAt = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
redis.call('HSET', KEYS[1], id, record)
redis.call('HSET', KEYS[2], id, heartbeat)
redis.call('ZADD', KEYS[3], expiresAt, id)
local revision = redis.call('INCR', KEYS[4])
redis.call('PUBLISH', ARGV[1], '{"type":"up","revision":' .. revision .. ',"instance":' .. record .. '}')
return revision`;

const HEARTBEAT = `
local id, at, expiresAt, stats = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local raw = redis.call('HGET', KEYS[2], id)
if not raw then return false end
local heartbeat = cjson.decode(raw)
heartbeat.lastHeartbeatAt = at
if stats ~= '' then
  heartbeat.stats = cjson.decode(stats)
  redis.call('PUBLISH', ARGV[1], cjson.encode({type = 'stats', instanceId = id, service = heartbeat.service,
    stats = heartbeat.stats, at = at}))
end
redis.call('HSET', KEYS[2], id, cjson.encode(heartbeat))
redis.call('ZADD', KEYS[3], expiresAt, id)
return tonumber(redis.call('GET', KEYS[4]) or '0')`;

const REMOVE = `
local function remove(id, reason)
  local raw = redis.call('HGET', KEYS[2], id)
  redis.call('HDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
  if not raw then return 0 end
  local revision = redis.call('INCR', KEYS[4])
  redis.call('PUBLISH', ARGV[1], cjson.encode({type = 'down', revision = revision, instanceId = id,
    service = cjson.decode(raw).service, reason = reason}))
  return 1
end`;

const DEREGISTER = `${REMOVE}
return remove(ARGV[2], 'deregistered')`;

const EXPIRE = `${REMOVE}
local now, limit = ARGV[2], ARGV[3]
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(expired) do remove(id, 'lease-expired') end
return #expired`;

const EXTEND_LEASES = `
local expiresAt = ARGV[2]
local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. expiresAt)
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[3], expiresAt, id) end
return #ids`;

export interface RedisStoreOptions extends StoreOptions {
  redis: Redis;
  prefix: string; // e.g. 'msa:registry:'; tests use one of their own
}

interface StoredHeartbeat {
  service: string;
  lastHeartbeatAt: string;
  stats?: InstanceStats;
}

export class RedisStore implements RegistryStore {
  readonly leaseMs: number;
  readonly events = new EventEmitter<StoreEvents>();
  private readonly redis: Redis;
  private readonly now: () => number;
  private readonly key: { records: string; heartbeats: string; leases: string; revision: string };
  private readonly channel: string;
  private subscriber: Redis | undefined;
  // Set from construction, and again by a failed sweep (Redis away): see RegistryStore.start.
  private leasesNeedExtending = true;

  constructor(options: RedisStoreOptions) {
    this.leaseMs = options.leaseMs;
    this.redis = options.redis;
    this.now = options.now ?? Date.now;
    const { prefix } = options;
    this.key = {
      records: `${prefix}records`,
      heartbeats: `${prefix}heartbeats`,
      leases: `${prefix}leases`,
      revision: `${prefix}revision`,
    };
    this.channel = `${prefix}events`;
  }

  async start(): Promise<void> {
    // Pub/sub needs a connection of its own.
    const subscriber = this.redis.duplicate({ lazyConnect: true, autoResubscribe: false });
    this.subscriber = subscriber;
    subscriber.on('error', () => undefined); // the kit's own client reports Redis being away
    subscriber.on('message', (_channel: string, message: string) => {
      this.events.emit('change', JSON.parse(message) as RegistryEvent);
    });
    const listen = () => subscriber.subscribe(this.channel);
    try {
      await subscriber.connect();
      await listen();
      await this.extendLeases();
    } catch {
      // Redis down at start is not fatal: ioredis keeps trying, calls meanwhile get a 503, readiness says
      // not ready, and the first sweep that reaches Redis extends the leases.
    }
    // On every later connection: listen again, and have the watchers resync, since what was published while
    // we were away is lost to them.
    subscriber.on('ready', () => {
      listen().then(
        () => this.events.emit('resync'),
        () => subscriber.disconnect(true), // reconnect, and try again
      );
    });
  }

  async stop(): Promise<void> {
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }

  async register(registration: InstanceRegistration) {
    const at = new Date(this.now()).toISOString();
    const expiresAt = this.now() + this.leaseMs;
    const instance: InstanceRecord = {
      ...registration,
      registeredAt: at,
      lastHeartbeatAt: at,
      leaseExpiresAt: new Date(expiresAt).toISOString(),
    };
    const heartbeat: StoredHeartbeat = { service: instance.service, lastHeartbeatAt: at };
    const revision = await this.run(
      REGISTER,
      instance.instanceId,
      JSON.stringify(instance),
      JSON.stringify(heartbeat),
      expiresAt,
    );
    return { instance, revision: Number(revision) };
  }

  async heartbeat(instanceId: string, stats?: InstanceStats) {
    const at = new Date(this.now()).toISOString();
    const revision = await this.run(
      HEARTBEAT,
      instanceId,
      at,
      this.now() + this.leaseMs,
      stats ? JSON.stringify(stats) : '',
    );
    return revision === null ? false : { revision: Number(revision) };
  }

  async deregister(instanceId: string): Promise<boolean> {
    return (await this.run(DEREGISTER, instanceId)) === 1;
  }

  async list(): Promise<InstanceRecord[]> {
    return (await this.snapshot()).instances;
  }

  async snapshot() {
    const { records, heartbeats, leases, revision: revisionKey } = this.key;
    // One MULTI, so the revision and the instances are read at the same moment.
    const replies = await this.redis
      .multi()
      .get(revisionKey)
      .hgetall(records)
      .hgetall(heartbeats)
      .zrange(leases, 0, -1, 'WITHSCORES')
      .exec();
    if (!replies) throw new Error('registry snapshot: transaction aborted');
    const [revision, recordsById, heartbeatsById, leaseList] = replies.map(([err, value]) => {
      if (err) throw err;
      return value;
    }) as [string | null, Record<string, string>, Record<string, string>, string[]];

    const instances: InstanceRecord[] = [];
    for (let i = 0; i < leaseList.length; i += 2) {
      const id = leaseList[i]!;
      const record = recordsById[id];
      const heartbeat = heartbeatsById[id];
      if (!record || !heartbeat) continue;
      const { lastHeartbeatAt, stats } = JSON.parse(heartbeat) as StoredHeartbeat;
      instances.push({
        ...(JSON.parse(record) as InstanceRecord),
        lastHeartbeatAt,
        leaseExpiresAt: new Date(Number(leaseList[i + 1])).toISOString(),
        ...(stats && { stats }),
      });
    }
    return { revision: Number(revision ?? 0), instances: instances.sort(byServiceThenId) };
  }

  async expire(limit = SWEEP_LIMIT): Promise<number> {
    try {
      if (this.leasesNeedExtending) await this.extendLeases();
      return Number(await this.run(EXPIRE, this.now(), limit));
    } catch (err) {
      // Redis is away, so no instance can renew its lease through us either: when it is back, give every
      // lease one more leaseMs before evicting any.
      this.leasesNeedExtending = true;
      throw err;
    }
  }

  private async extendLeases(): Promise<void> {
    await this.run(EXTEND_LEASES, this.now() + this.leaseMs);
    this.leasesNeedExtending = false;
  }

  // EVAL sends the script each time; Redis caches it compiled, and the scripts are small.
  private run(script: string, ...args: (string | number)[]): Promise<unknown> {
    const { records, heartbeats, leases, revision } = this.key;
    return this.redis.eval(script, 4, records, heartbeats, leases, revision, this.channel, ...args);
  }
}
