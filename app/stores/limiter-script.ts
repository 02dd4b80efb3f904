import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

/**
 * The limiter's Lua, kept as a string so the esbuild bundle needs no files beside it. The arithmetic
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
 * Every limit of one request in one script: the key's and its team's rpm and tpm (TATs), the key's
 * monthly token budget and the key's and team's dollar budgets per day and month (hash counters with
 * `used` = reserved + settled and `spent` = settled, in tokens or micro-dollars). limiter-plan.ts
 * lays out the arguments; `evaluatePlan` in limiter-math.ts is the same decision in JS.
 *
 * KEYS: the nr TATs, then the nc counters.
 * ARGV: 1 now (µs), 2 mode ('c' check, 'a' adjust only), 3 nr, 4 nc, 5 '1' = create a missing
 *   counter at zero (nothing to seed from);
 *   per TAT (4 each): limit, cost, adjustment (µs, from earlier reconciles), kind (1 requests, 2 tokens);
 *   per counter (8 each): budget, cost, ttl (ms), ms to reset, used adjustment, spent adjustment,
 *   seed (-1 none: the value to create a missing counter with), thresholds ('1' report 80/100 %).
 * Adjustments are the reconciles of this key not yet written, applied first exactly as on their own
 * (see limiter-redis: one round trip per request instead of two). A counter that is missing gets no
 * adjustment (its seed from Postgres holds the settled usage).
 *
 * Returns {-1, missing counter indexes…} when a counter is missing and has no seed (nothing was
 * written: the caller seeds it and calls again); otherwise {allowed 1|0, refused 0|1 requests|2
 * tokens|3 budget, refused index, retry ms, n events, events (counter index, percent, spent)…,
 * then (mode 'c') remaining and reset ms per TAT}.
 */
export const LIMITS_LUA = `${HELPERS}
local mode = ARGV[2]
local nr = tonumber(ARGV[3])
local nc = tonumber(ARGV[4])
local RB = 5
local CB = 5 + nr * 4
local function carg(j, f) return ARGV[CB + (j - 1) * 8 + f] end
local function rarg(i, f) return tonumber(ARGV[RB + (i - 1) * 4 + f]) end

local exists = {}
if mode == 'c' then
  local missing = {}
  for j = 1, nc do
    exists[j] = redis.call('EXISTS', KEYS[nr + j]) == 1
    if not exists[j] and tonumber(carg(j, 7)) < 0 and ARGV[5] ~= '1' then table.insert(missing, j) end
  end
  if #missing > 0 then
    local out = {-1}
    for _, j in ipairs(missing) do table.insert(out, j) end
    return out
  end
else
  for j = 1, nc do exists[j] = redis.call('EXISTS', KEYS[nr + j]) == 1 end
end

for i = 1, nr do
  local adj = rarg(i, 3)
  if adj ~= 0 then
    local t = tat(KEYS[i]) + adj
    if t < now then t = now end
    store(KEYS[i], t)
  end
end
local events = {}
for j = 1, nc do
  local key = KEYS[nr + j]
  local adjUsed = tonumber(carg(j, 5))
  local adjSpent = tonumber(carg(j, 6))
  if exists[j] and (adjUsed ~= 0 or adjSpent ~= 0) then
    if adjUsed ~= 0 then
      local v = redis.call('HINCRBY', key, 'used', adjUsed)
      if v < 0 then redis.call('HSET', key, 'used', '0') end
    end
    if adjSpent > 0 then
      local after = redis.call('HINCRBY', key, 'spent', adjSpent)
      local before = after - adjSpent
      local budget = tonumber(carg(j, 1))
      if carg(j, 8) == '1' and budget > 0 then
        if before * 5 < budget * 4 and after * 5 >= budget * 4 then
          table.insert(events, j); table.insert(events, 80); table.insert(events, after)
        end
        if before < budget and after >= budget then
          table.insert(events, j); table.insert(events, 100); table.insert(events, after)
        end
      end
    end
  end
end
local head = {1, 0, 0, 0, #events / 3}
if mode ~= 'c' then
  for _, e in ipairs(events) do table.insert(head, e) end
  return head
end

local used = {}
for j = 1, nc do
  local key = KEYS[nr + j]
  if not exists[j] then
    local seed = tonumber(carg(j, 7))
    if seed < 0 then seed = 0 end
    redis.call('HSET', key, 'used', string.format('%.0f', seed), 'spent', string.format('%.0f', seed))
    redis.call('PEXPIRE', key, carg(j, 3))
  end
  used[j] = tonumber(redis.call('HGET', key, 'used') or '0')
end
local refused, refIdx, retry, refReset = 0, 0, 0, -1
for j = 1, nc do
  local budget = tonumber(carg(j, 1))
  local cost = tonumber(carg(j, 2))
  local reset = tonumber(carg(j, 4))
  if used[j] >= budget or used[j] + cost > budget then
    refused = 3
    if reset > refReset then refReset = reset; refIdx = j end
    if reset > retry then retry = reset end
  end
end
local tats, news = {}, {}
for i = 1, nr do
  local limit, cost, kind = rarg(i, 1), rarg(i, 2), rarg(i, 4)
  tats[i] = tat(KEYS[i])
  news[i] = tats[i] + inc(cost, limit)
  local wait = 0
  if cost > limit then wait = W / 1000 elseif news[i] - now > W then wait = ceilms(news[i] - now - W) end
  if wait > 0 then
    if wait > retry then retry = wait end
    if refused == 0 or (refused == 2 and kind == 1) then refused = kind; refIdx = i end
  end
end
if refused == 0 then
  for i = 1, nr do store(KEYS[i], news[i]) end
  for j = 1, nc do
    local cost = tonumber(carg(j, 2))
    if cost > 0 then redis.call('HINCRBY', KEYS[nr + j], 'used', cost) end
  end
  tats = news
  head[1] = 1
else
  head[1] = 0
  head[2] = refused
  head[3] = refIdx
  head[4] = math.max(retry, 1)
end
for _, e in ipairs(events) do table.insert(head, e) end
for i = 1, nr do
  table.insert(head, remaining(tats[i], rarg(i, 1)))
  table.insert(head, ceilms(tats[i] - now))
end
return head
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
