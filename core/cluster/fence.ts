/**
 * Fencing for the coordinator's writes: every Lua script that changes a job, run or schedule starts
 * with FENCE, so a coordinator that lost the lease (or holds it at an older epoch) is refused (-1).
 * KEYS[1], KEYS[2]: the leader lease and its epoch; ARGV[1], ARGV[2]: the holder and epoch.
 */
export const FENCE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
`;

/** Starts a queued job or run (KEYS[3]) at ARGV[3]: 1 started, 2 already running (resume), 0 finished. */
export const START = FENCE + `
local state = redis.call('HGET', KEYS[3], 'state')
if state == 'queued' then redis.call('HSET', KEYS[3], 'state', 'running', 'startedAt', ARGV[3]) return 1 end
if state == 'running' then return 2 end
return 0`;
