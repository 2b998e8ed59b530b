import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, projectRoot } from '../../../src/config/loadConfig';
import { RedisKeys } from '../../../src/redis/redisKeys';

describe('cascade and redis config', () => {
  it('defaults to the in-memory coordinator (one node, no Redis)', () => {
    const c = parseConfig({});
    expect(c.cascade.coordinator).toBe('memory');
    expect(c.cascade.nodeTtlMs + c.cascade.heartbeatMs).toBeLessThanOrEqual(3_000);
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
  });

  it('accepts config/cascade.example.yaml', () => {
    const c = loadConfig({ argv: ['--config', path.join(projectRoot, 'config/cascade.example.yaml')], env: {} });
    expect(c.cascade.coordinator).toBe('redis');
    expect(c.cascade.pipe.listenIp).toBe('10.0.0.11');
    expect(c.redis.url).toMatch(/^redis:\/\//);
  });

  it('takes overrides from the environment', () => {
    const c = loadConfig({
      argv: [],
      env: { SUBSEC_CASCADE_COORDINATOR: 'redis', SUBSEC_REDIS_URL: 'redis://r:6380', SUBSEC_CASCADE_PIPE_ENABLE_SRTP: 'true' },
    });
    expect(c.cascade.coordinator).toBe('redis');
    expect(c.redis.url).toBe('redis://r:6380');
    expect(c.cascade.pipe.enableSrtp).toBe(true);
  });

  it('rejects bad values, naming the key', () => {
    expect(() => parseConfig({ cascade: { coordinator: 'etcd' } })).toThrowError(/cascade\.coordinator/);
    expect(() => parseConfig({ cascade: { heartbeatMs: 1000, nodeTtlMs: 1500 } })).toThrowError(/cascade\.nodeTtlMs: must be at least twice heartbeatMs/);
    expect(() => parseConfig({ cascade: { pipe: { minPort: 5000 } } })).toThrowError(/cascade\.pipe\.minPort/);
    expect(() => parseConfig({ cascade: { pipe: { minPort: 5000, maxPort: 4000 } } })).toThrowError(/cascade\.pipe\.maxPort/);
    expect(() => parseConfig({ cascade: { lingerMs: 10, bogus: 1 } })).toThrowError(/cascade\.bogus/);
    expect(() => parseConfig({ redis: { url: 'http://x' } })).toThrowError(/redis\.url/);
    expect(() => parseConfig({ redis: { sentinelName: 'm' } })).toThrowError(/redis\.sentinels/);
    expect(() => parseConfig({ redis: { keyPrefix: 'has space' } })).toThrowError(/redis\.keyPrefix/);
  });
});

describe('Redis key names', () => {
  it('puts every key of a room under one hash tag and encodes names', () => {
    const k = new RedisKeys('p:');
    expect(k.stream('room 1', 'a:b')).toBe('p:{r:room%201}:stream:a%3Ab');
    expect(k.epoch('room 1', 'a:b')).toBe('p:{r:room%201}:epoch:a%3Ab');
    expect(k.roomStreams('room 1')).toBe('p:{r:room%201}:streams');
    expect(k.relays('room 1', 'x')).toBe('p:{r:room%201}:relays:x');
    expect(k.node('n/1')).toBe('p:node:n%2F1');
    expect(k.nodeIdOf(k.node('n/1'))).toBe('n/1');
    expect(k.rpc('n')).toBe('p:rpc:n');
  });
});
