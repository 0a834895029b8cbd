/**
 * Writes a set of resource versions, their index changes and an optional idempotency guard in one
 * atomic step. Every check happens before the first write, because Redis does not roll back a
 * script that fails half-way.
 *
 * ARGV[1] = JSON { guard?: {key, value}, writes: [{key, prev, version, json, acl}], ops: [[CMD, ...args]] }
 * Returns {'ok'} | {'guard', existingValue} | {'conflict', key, currentVersion}.
 */
export const COMMIT_SCRIPT = `
local tx = cjson.decode(ARGV[1])
if tx.guard then
  local existing = redis.call('GET', tx.guard.key)
  if existing then return {'guard', existing} end
end
for _, w in ipairs(tx.writes) do
  local current = tonumber(redis.call('HGET', w.key, 'v') or '0')
  if current ~= w.prev then return {'conflict', w.key, tostring(current)} end
end
local allowed = {SADD = true, SREM = true, ZADD = true, ZREM = true, DEL = true, SET = true, HSET = true}
for _, op in ipairs(tx.ops) do
  if not allowed[op[1]] then return redis.error_reply('command not allowed in commit: ' .. tostring(op[1])) end
end
for _, w in ipairs(tx.writes) do
  redis.call('HSET', w.key, 'v', tostring(w.version), tostring(w.version), w.json, 'acl', w.acl)
end
for _, op in ipairs(tx.ops) do
  redis.call(unpack(op))
end
if tx.guard then redis.call('SET', tx.guard.key, tx.guard.value) end
return {'ok'}
`;

/**
 * One page of a search. Every index set is already scoped to the caller's tenancy and sorted by
 * lastUpdated, so a search with one value of one parameter reads a page straight from one set;
 * several values of a parameter are united, several parameters intersected, in a scratch set.
 * Cost: logarithmic in the store for one parameter, linear in the most selective set for several.
 *
 * ARGV[1] = JSON { base, filters: [[setKey, ...], ...], min, max, offset, count, scratch, resourcePrefix }
 * Returns {total, json1, json2, ...}.
 */
export const SEARCH_SCRIPT = `
local q = cjson.decode(ARGV[1])
local temporary = {}
local sources = {}
for i, alternatives in ipairs(q.filters) do
  if #alternatives == 1 then
    sources[#sources + 1] = alternatives[1]
  else
    local union = q.scratch .. ':u' .. i
    local args = {union, #alternatives}
    for _, key in ipairs(alternatives) do args[#args + 1] = key end
    args[#args + 1] = 'AGGREGATE'
    args[#args + 1] = 'MAX'
    redis.call('ZUNIONSTORE', unpack(args))
    temporary[#temporary + 1] = union
    sources[#sources + 1] = union
  end
end
-- Index sets are subsets of the tenancy set: one as large as it restricts nothing and is left out,
-- and Redis intersects starting from the smallest, so the cost follows the most selective parameter.
local baseSize = redis.call('ZCARD', q.base)
local restricting = {}
for _, key in ipairs(sources) do
  if redis.call('ZCARD', key) < baseSize then restricting[#restricting + 1] = key end
end
sources = restricting
local source = q.base
if #sources == 1 then
  source = sources[1]
elseif #sources > 1 then
  source = q.scratch .. ':i'
  temporary[#temporary + 1] = source
  -- unpack() expands only in the last position of an argument list, so build the whole list first
  local args = {source, #sources}
  for _, key in ipairs(sources) do args[#args + 1] = key end
  args[#args + 1] = 'AGGREGATE'
  args[#args + 1] = 'MAX'
  redis.call('ZINTERSTORE', unpack(args))
end
local total = redis.call('ZCOUNT', source, q.min, q.max)
local ids = {}
if q.count > 0 then
  ids = redis.call('ZREVRANGEBYSCORE', source, q.max, q.min, 'LIMIT', q.offset, q.count)
end
if #temporary > 0 then redis.call('DEL', unpack(temporary)) end
local result = {total}
for _, id in ipairs(ids) do
  local key = q.resourcePrefix .. id
  local version = redis.call('HGET', key, 'v')
  result[#result + 1] = redis.call('HGET', key, version)
end
return result
`;
