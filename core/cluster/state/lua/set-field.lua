-- Sets one field (ARGV[3]) of a record (KEYS[3]) to ARGV[4].
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
return 1
