import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

/**
 * The limiter's Lua, kept as strings so the esbuild bundle needs no files beside it. The arithmetic
 * mirrors `limiter-math.ts` line for line (GCRA in whole microseconds); the shared behaviour suite
 * runs both against the same cases. The clock comes in as an argument rather than Redis TIME so
 * every replica's script is a pure function of its inputs (and tests can move time); ECS tasks are
 * NTP-synced, and a skew of a few ms between replicas shifts a limit by a few ms, not by requests.
 *
 * TAT numbers are written with %.0f: Lua's tostring keeps 14 digits, too few for microseconds.
 */
const HELPERS = `
local W = 60000000
local now = tonumber(ARGV[1])
local function tat(key)
  local v = tonumber(redis.call('GET', key) or '0')
  if v < now then v = now end
  return v
end
local function inc(cost, limit) return math.floor(cost * W / limit) end
local function ceilms(us)
  local v = math.ceil(us / 1000)
  if v < 0 then v = 0 end
  return v
end
local function remaining(t, limit)
  local r = math.floor((W - (t - now)) * limit / W)
  if r < 0 then r = 0 end
  return r
end
local function store(key, t)
  if t > now then
    redis.call('SET', key, string.format('%.0f', t), 'PX', ceilms(t - now) + 1000)
  else
    redis.call('DEL', key)
  end
end
`;

/**
 * KEYS: 1 request TAT, 2 token TAT, 3 budget counter.
 * ARGV: 1 now (µs), 2 rpm, 3 tpm, 4 tokens, 5 budget (-1 = none), 6 budget counter TTL (ms),
 *       7 '1' = create a missing budget counter at zero, 8 ms until the month ends,
 *       9 token TAT adjustment (µs) and 10 budget adjustment (tokens) from earlier reconciles of this
 *       key, applied first exactly as RECONCILE_LUA would have (see limiter-redis: one round trip
 *       per request instead of two).
 * Returns {-1} when the budget counter is missing and must be seeded by the caller; otherwise
 * {allowed 1|0, refusedBy 0|1 requests|2 tokens|3 budget, remainingRequests, resetRequestsMs,
 *  remainingTokens, resetTokensMs, retryAfterMs}.
 */
export const CHECK_LUA = `${HELPERS}
local adjUs = tonumber(ARGV[9] or '0')
if adjUs ~= 0 then
  local t = tat(KEYS[2]) + adjUs
  if t < now then t = now end
  store(KEYS[2], t)
end
local adjBudget = tonumber(ARGV[10] or '0')
if adjBudget ~= 0 and redis.call('EXISTS', KEYS[3]) == 1 then
  local v = redis.call('INCRBY', KEYS[3], adjBudget)
  if v < 0 then redis.call('SET', KEYS[3], '0', 'KEEPTTL') end
end
local rpm = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local budget = tonumber(ARGV[5])
local used = 0
if budget >= 0 then
  local v = redis.call('GET', KEYS[3])
  if v then
    used = tonumber(v)
  elseif ARGV[7] == '1' then
    redis.call('SET', KEYS[3], '0', 'PX', ARGV[6])
  else
    return {-1}
  end
end
local rTat = tat(KEYS[1])
local tTat = tat(KEYS[2])
local rNew = rTat + inc(1, rpm)
local tNew = tTat + inc(cost, tpm)
local refused = 0
local retry = 0
if budget >= 0 and (used >= budget or used + cost > budget) then
  refused = 3
  retry = tonumber(ARGV[8])
end
if rNew - now > W then
  if refused == 0 then refused = 1 end
  retry = math.max(retry, ceilms(rNew - now - W))
end
local tWait = 0
if cost > tpm then tWait = W / 1000 elseif tNew - now > W then tWait = ceilms(tNew - now - W) end
if tWait > 0 then
  if refused == 0 then refused = 2 end
  retry = math.max(retry, tWait)
end
if refused > 0 then
  return {0, refused, remaining(rTat, rpm), ceilms(rTat - now), remaining(tTat, tpm), ceilms(tTat - now), math.max(retry, 1)}
end
store(KEYS[1], rNew)
store(KEYS[2], tNew)
if budget >= 0 and cost > 0 then redis.call('INCRBY', KEYS[3], cost) end
return {1, 0, remaining(rNew, rpm), ceilms(rNew - now), remaining(tNew, tpm), ceilms(tNew - now), 0}
`;

/**
 * KEYS: 1 token TAT, 2 budget counter. ARGV: 1 now (µs), 2 token TAT adjustment (µs: the sum of
 * `inc(actual) - inc(reserved)` over the reconciles it carries), 3 budget adjustment (tokens:
 * actual - reserved). A missing budget counter is left missing: the next check seeds it from
 * Postgres, and INCRBY would create it without a TTL.
 */
export const RECONCILE_LUA = `${HELPERS}
local adj = tonumber(ARGV[2])
if adj ~= 0 then
  local t = tat(KEYS[1]) + adj
  if t < now then t = now end
  store(KEYS[1], t)
end
local adjBudget = tonumber(ARGV[3])
if adjBudget ~= 0 and redis.call('EXISTS', KEYS[2]) == 1 then
  local v = redis.call('INCRBY', KEYS[2], adjBudget)
  if v < 0 then redis.call('SET', KEYS[2], '0', 'KEEPTTL') end
end
return 1
`;

export interface LuaScript {
  lua: string;
  sha: string;
}

export function defineScript(lua: string): LuaScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * EVALSHA, and EVAL once when the server has not seen the script (restart, failover, SCRIPT FLUSH);
 * EVAL loads it into the script cache, so the next call is an EVALSHA hit again.
 */
export async function runScript(redis: Redis, script: LuaScript, keys: string[], args: (string | number)[]): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return redis.eval(script.lua, keys.length, ...keys, ...args);
  }
}
