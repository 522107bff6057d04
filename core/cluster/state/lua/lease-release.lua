-- Gives the leader lease KEYS[1] back if ARGV[1] holds it: 1, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
