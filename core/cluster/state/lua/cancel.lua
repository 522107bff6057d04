-- Cancels a job or run: a queued one at once; a running one by flagging it and telling its
-- coordinator (and workers). Atomic, so it cannot start between the check and the change.
-- KEYS: record, events, zset. ARGV: id, now. Returns the state found, or false for no record.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return false end
if state == 'queued' then
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finishedAt', ARGV[2], 'error', 'cancelled before it started')
  end_record(KEYS[3], ARGV[1], ARGV[2])
elseif state == 'running' then
  redis.call('HSET', KEYS[1], 'cancel', '1')
  redis.call('PUBLISH', KEYS[2], 'cancel ' .. ARGV[1])
end
return state
