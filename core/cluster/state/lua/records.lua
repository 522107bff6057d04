-- What job and run records share (core/cluster/records.ts): a sorted set of ids by submit time, and
-- beside it the ids still unfinished and the ids finished, by finish time. A record moves between
-- them atomically with its state.

-- The record `id` has ended at `at`: out of the unfinished set, into the finished one.
local function end_record(zset, id, at)
  redis.call('ZREM', zset .. '{{unfinished}}', id)
  redis.call('ZADD', zset .. '{{finished}}', at, id)
end

-- The record `id` (hash `key`), submitted at `at`, is queued with its spec, and announced.
local function queue_record(key, zset, events, id, spec, at)
  redis.call('HSET', key, 'spec', spec, 'state', 'queued')
  redis.call('ZADD', zset, at, id)
  redis.call('ZADD', zset .. '{{unfinished}}', at, id)
  redis.call('PUBLISH', events, 'submitted ' .. id)
end
