/** Attempt limits and backoff, shared by every transport. */

export interface RetryPolicy {
  /** Attempts per task, the first included. @defaultValue 4 */
  maxAttempts: number;
  /** Delay before the second attempt, doubled for each later one, with jitter. @defaultValue 250 */
  backoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 4, backoffMs: 250 };

/** Exponential backoff with "equal jitter": half fixed, half random, so retries of many tasks spread out. */
export function backoffDelay(policy: RetryPolicy, failedAttempt: number): number {
  const exp = policy.backoffMs * 2 ** (failedAttempt - 1);
  return exp / 2 + Math.random() * (exp / 2);
}
