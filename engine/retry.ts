/**
 * Attempt limits and backoff, shared by every transport. Only the driver (driver.ts) retries: a
 * cluster's queue jobs are single-attempt, so these are the one limit and the one backoff.
 */
import { JOB_DEFAULTS } from "../core/defaults.js";

export interface RetryPolicy {
  /** Attempts per task, the first included. @defaultValue 4 */
  maxAttempts: number;
  /** Delay before the second attempt, doubled for each later one, with jitter. @defaultValue 1000 */
  backoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: JOB_DEFAULTS.maxAttempts, backoffMs: JOB_DEFAULTS.retryBackoffMs };

/** Exponential backoff with "equal jitter": half fixed, half random, so retries of many tasks spread out. */
export function backoffDelay(policy: RetryPolicy, failedAttempt: number): number {
  const exp = policy.backoffMs * 2 ** (failedAttempt - 1);
  return exp / 2 + Math.random() * (exp / 2);
}
