/**
 * The defaults a job gets when neither its module nor a flag says otherwise: one set, the same on
 * `sheaf run` and on a cluster, so the same job writes the same output (the same number of parts,
 * byte for byte) on both transports.
 */
export const JOB_DEFAULTS = {
  /** Reduce tasks of a job that names no `partitions`: a constant, not this machine's thread count. */
  partitions: 4,
  splitSize: 64 << 20,
  sortBufferBytes: 128 << 20,
  maxAttempts: 4,
  /** The first retry's delay; it doubles with each failed attempt (half of it jittered). */
  retryBackoffMs: 1000,
  /** An attempt running longer is stopped and retried, unless the job names its own `taskTimeout`. */
  taskTimeoutMs: 30 * 60_000,
  /** Bytes of work between a task's checkpoints; with no flag, also at most every 10 s and 5% of a task's time. */
  checkpointBytes: 16 << 20,
} as const;

/**
 * The services' defaults (`sheaf coordinator`, `sheaf worker`), read by the services themselves and
 * by the CLI's help, so the two cannot disagree.
 */
export const SERVICE_DEFAULTS = {
  /** Leader lease: a dead leader is replaced within about this long. */
  leaseMs: 5_000,
  /** How often the coordinator looks for work besides the submit events. */
  pollMs: 1_000,
  /** A job's planning (its module's top-level code included) fails past this. */
  planTimeoutMs: 120_000,
  /** Heap of a planning thread, in MiB. */
  planMemoryMb: 1024,
  /** Finished jobs kept in Redis (and finished runs, counted apart). */
  keepJobs: 1000,
  /** Finished jobs and runs are deleted this long after they finished. */
  keepForMs: 7 * 86_400_000,
  /** An artifact nothing unfinished names is deleted once older than this. */
  artifactGraceMs: 3_600_000,
  /** A worker's task lock: a dead worker's tasks are retried within about 1.5x this long. */
  lockMs: 3_000,
  /** How often a worker publishes its heartbeat; it expires after three of these (a dead worker drops from `sheaf workers`). */
  heartbeatMs: 2_000,
} as const;
