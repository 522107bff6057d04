-- Starts a queued job or run (KEYS[3]) at ARGV[3]: 1 started, 2 already running (a resume), 0 finished.
local state = redis.call('HGET', KEYS[3], 'state')
if state == 'queued' then redis.call('HSET', KEYS[3], 'state', 'running', 'startedAt', ARGV[3]) return 1 end
if state == 'running' then return 2 end
return 0
