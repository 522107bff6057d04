-- Fires one due time of a schedule, atomically: a due time fired before is a no-op (0); while a run
-- is going, overlap `skip` records it skipped (2) and `queue` queues it (3), and a queued due time
-- stays queued (4); otherwise the run record is created, the schedule marks it running, and the
-- event is recorded (1).
-- KEYS: leader, epoch, schedule, :fired, :queue, :history, run, runs, events, :queue:sig.
-- ARGV: holder, epoch, due, run id, run spec, submittedAt, overlap, event (started), event (skipped
-- or queued), fromQueue ('1' or '0'), the prefix of run keys, now, the due time's signature ('').
if redis.call('HEXISTS', KEYS[3], 'spec') == 0 then return 0 end
if redis.call('HEXISTS', KEYS[4], ARGV[3]) == 1 and ARGV[10] ~= '1' then return 0 end
local running = redis.call('HGET', KEYS[3], 'running')
if running and running ~= '' then
  -- The previous run may have ended since the last tick: record it here rather than block this due time.
  local st = redis.call('HGET', ARGV[11] .. running, 'state')
  if st == 'succeeded' or st == 'failed' or st == 'cancelled' then
    redis.call('LPUSH', KEYS[6], cjson.encode({ due = tonumber(redis.call('HGET', KEYS[3], 'runningDue') or '0'), outcome = st, run = running, at = tonumber(ARGV[12]) }))
    redis.call('HSET', KEYS[3], 'running', '')
    running = nil
  end
end
-- With overlap queue, a live due time goes behind the due times already queued, even if nothing
-- runs at this instant: the tick that starts the head may not have got there yet.
local behind = ARGV[10] ~= '1' and ARGV[7] == 'queue' and redis.call('LLEN', KEYS[5]) > 0
if (running and running ~= '') or behind then
  if ARGV[10] == '1' then return 4 end
  redis.call('HSET', KEYS[4], ARGV[3], '')
  redis.call('LPUSH', KEYS[6], ARGV[9])
  redis.call('LTRIM', KEYS[6], 0, {{history_last}})
  if ARGV[7] == 'queue' then
    redis.call('RPUSH', KEYS[5], ARGV[3])
    if ARGV[13] ~= '' then redis.call('HSET', KEYS[10], ARGV[3], ARGV[13]) end
    return 3
  end
  return 2
end
if ARGV[10] == '1' then
  redis.call('LREM', KEYS[5], 1, ARGV[3])
  redis.call('HDEL', KEYS[10], ARGV[3])
end
redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
redis.call('HSET', KEYS[3], 'running', ARGV[4], 'runningDue', ARGV[3])
if redis.call('EXISTS', KEYS[7]) == 0 then queue_record(KEYS[7], KEYS[8], KEYS[9], ARGV[4], ARGV[5], ARGV[6]) end
redis.call('LPUSH', KEYS[6], ARGV[8])
redis.call('LTRIM', KEYS[6], 0, {{history_last}})
return 1
