-- Stores the plan (ARGV[3]) and its signature (ARGV[4]) in the job record KEYS[3] unless one is
-- stored, and returns the stored pair: the first leader's plan wins.
if redis.call('HSETNX', KEYS[3], 'plan', ARGV[3]) == 1 then redis.call('HSET', KEYS[3], 'planSig', ARGV[4]) end
return redis.call('HMGET', KEYS[3], 'plan', 'planSig')
