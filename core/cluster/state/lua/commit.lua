-- First wins for each (task id, result) pair in ARGV[3..] on the commit hash KEYS[3]: one 1 or 0 per pair.
local won = {}
for i = 3, #ARGV, 2 do won[#won + 1] = redis.call('HSETNX', KEYS[3], ARGV[i], ARGV[i + 1]) end
return won
