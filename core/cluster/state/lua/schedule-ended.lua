-- The schedule's running run ended: clear it and record the outcome.
-- KEYS: leader, epoch, schedule, :history. ARGV: holder, epoch, run id, event json.
if redis.call('HGET', KEYS[3], 'running') ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[3], 'running', '')
redis.call('LPUSH', KEYS[4], ARGV[4])
redis.call('LTRIM', KEYS[4], 0, {{history_last}})
return 1
