-- Records a job's outcome, moves it to the finished set, and drops its commit records, stored plan
-- and marks (a finished record set back to queued must be prepared again: an output with _SUCCESS
-- is then refused unless --overwrite).
-- KEYS[3]: the job record, KEYS[4]: its commit hash, KEYS[5]: the jobs zset.
-- ARGV[3]: state, ARGV[4]: now, ARGV[5]: error ('' for none), ARGV[6]: the job id.
redis.call('HSET', KEYS[3], 'state', ARGV[3], 'finishedAt', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[3], 'error', ARGV[5]) end
redis.call('HDEL', KEYS[3], 'plan', 'planSig', 'prepared', 'published')
redis.call('DEL', KEYS[4])
end_record(KEYS[5], ARGV[6], ARGV[4])
return 1
