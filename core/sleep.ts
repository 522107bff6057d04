/**
 * Waits `ms`, or less if `signal` aborts first; never rejects. The abort listener is removed when
 * the time is up: a polling loop that left one per wait on a long-lived signal grew without bound
 * (Node's MaxListenersExceededWarning after ten waits).
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
