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
} as const;
