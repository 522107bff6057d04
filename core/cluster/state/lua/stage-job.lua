-- A pipeline stage's job: the one already recorded in the run, or a new job record, queued.
-- KEYS[3]: the run record, KEYS[4]: the new job's record, KEYS[5]: the jobs zset, KEYS[6]: events.
-- ARGV[3]: stage, ARGV[4]: the new job's id, ARGV[5]: its signed spec, ARGV[6]: submittedAt.
local existing = redis.call('HGET', KEYS[3], 'job:' .. ARGV[3])
if existing then return existing end
redis.call('HSET', KEYS[3], 'job:' .. ARGV[3], ARGV[4])
queue_record(KEYS[4], KEYS[5], KEYS[6], ARGV[4], ARGV[5], ARGV[6])
return ARGV[4]
