-- The fence, first in every script a leader writes with: KEYS[1], KEYS[2] are the leader lease and
-- its epoch, ARGV[1], ARGV[2] the writer's holder id and epoch. A coordinator that lost the lease,
-- or holds it at an older epoch, is refused (-1) before anything is written.
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
