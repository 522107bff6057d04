-- Queues a job or run record: its spec, state queued, its place in the zset, and the submitted event.
-- KEYS: record, zset, events. ARGV: id, spec json, submittedAt.
queue_record(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3])
return 1
