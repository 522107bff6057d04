-- Deletes finished records past the retention bounds, oldest finished first: those finished before
-- ARGV[1] (ms), and those beyond the newest ARGV[2], at most ARGV[3] per call. A record goes with its
-- commit records (left by a job whose coordinator died before finishing it), its attempt count and timeline.
-- A record something live still reads is kept for a later sweep: a stage's job while its pipeline
-- run is unfinished, a schedule's current run.
-- KEYS: zset, the runs zset. ARGV: cutoff, keep, batch, record key prefix, schedule key prefix.
local finished = KEYS[1] .. '{{finished}}'
local n = math.max(redis.call('ZCARD', finished) - tonumber(ARGV[2]), redis.call('ZCOUNT', finished, '-inf', '(' .. ARGV[1]))
n = math.min(n, tonumber(ARGV[3]))
if n <= 0 then return 0 end
local pruned = 0
for _, id in ipairs(redis.call('ZRANGE', finished, 0, n - 1)) do
  local key = ARGV[4] .. id
  local ok, spec = pcall(cjson.decode, redis.call('HGET', key, 'spec') or '{}')
  if not ok or type(spec) ~= 'table' then spec = {} end
  local keep = false
  if type(spec.run) == 'string' and redis.call('ZSCORE', KEYS[2] .. '{{unfinished}}', spec.run) then keep = true end
  if type(spec.schedule) == 'table' and redis.call('HGET', ARGV[5] .. tostring(spec.schedule.name), 'running') == id then keep = true end
  if not keep then
    redis.call('DEL', key, key .. ':committed', key .. ':attempts', key .. ':timeline')
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', finished, id)
    pruned = pruned + 1
  end
end
return pruned
