/**
 * Lua scripts of the origin directory. Each runs atomically in Redis, which is what makes the
 * lease rule hold when several nodes race: see docs/cascade.md, "Split brain".
 * All keys of one script share the room's hash tag (see redisKeys.ts), so they run on Cluster too.
 */

/**
 * CLAIM — newest wins. KEYS: stream, epoch, roomStreams. ARGV: nodeId, minEpoch, leaseMs,
 * identity, since, room. Takes epoch = max(INCR epoch, minEpoch + 1, Redis time in ms): strictly
 * increasing per stream, and still increasing after a Redis restart wiped the counter (a newer
 * claim is later in time even when its node never saw the old epoch; the claimer also passes the
 * highest epoch it has seen). Returns {epoch, previousLeaseJson|false}.
 */
export const CLAIM_LUA = `
local e = redis.call('INCR', KEYS[2])
local m = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if e <= m then e = m + 1 end
if e < now then e = now end
redis.call('SET', KEYS[2], e)
redis.call('PEXPIRE', KEYS[2], 86400000)
local prev = redis.call('GET', KEYS[1])
local v = cjson.encode({room = ARGV[6], identity = ARGV[4], nodeId = ARGV[1], epoch = e, since = tonumber(ARGV[5])})
redis.call('SET', KEYS[1], v, 'PX', ARGV[3])
redis.call('SADD', KEYS[3], ARGV[4])
return {e, prev}
`;

/**
 * RENEW — compare-and-extend. KEYS: stream, epoch, roomStreams. ARGV: nodeId, epoch, leaseMs,
 * identity, leaseJson. Returns {1} when extended; {2} when the lease was missing (expired while
 * cut off, or Redis restarted) or held with a lower epoch (a stale holder restored it first after
 * a restart) and no higher epoch was issued since, so it was restored as is; {0,
 * currentLeaseJson|false} when a claim with a higher epoch superseded it (the caller steps down).
 */
export const RENEW_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local c = cjson.decode(cur)
  if c.nodeId == ARGV[1] and tonumber(c.epoch) == tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    redis.call('SADD', KEYS[3], ARGV[4])
    return {1}
  end
  if tonumber(c.epoch) >= tonumber(ARGV[2]) then
    return {0, cur}
  end
end
local e = tonumber(redis.call('GET', KEYS[2]) or '0')
if e > tonumber(ARGV[2]) then
  return {0}
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', 86400000)
redis.call('SET', KEYS[1], ARGV[5], 'PX', ARGV[3])
redis.call('SADD', KEYS[3], ARGV[4])
return {2}
`;

/** RELEASE — compare-and-delete. KEYS: stream. ARGV: nodeId, epoch. Returns 1 if deleted. */
export const RELEASE_LUA = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local c = cjson.decode(cur)
if c.nodeId == ARGV[1] and tonumber(c.epoch) == tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;
