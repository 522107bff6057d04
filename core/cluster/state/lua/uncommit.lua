-- Drops task ARGV[3]'s commit from KEYS[3] (its output turned out corrupt or missing: it runs again).
return redis.call('HDEL', KEYS[3], ARGV[3])
