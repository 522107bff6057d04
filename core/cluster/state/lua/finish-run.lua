-- Records a pipeline run's outcome and moves it to the finished set.
-- KEYS[3]: the run record, KEYS[4]: the runs zset. ARGV[3]: state, ARGV[4]: now, ARGV[5]: error, ARGV[6]: the run id.
redis.call('HSET', KEYS[3], 'state', ARGV[3], 'finishedAt', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[3], 'error', ARGV[5]) end
end_record(KEYS[4], ARGV[6], ARGV[4])
return 1
