/**
 * How many of `sheaf run`'s threads to start before the job is planned. On two cores a thread that
 * boots while the main thread loads the runner and the first thread loads the task code slows both
 * (a 1 KB CSV -> Parquet run: 0.30 s on one thread, 0.37 s with a second one that never ran a task).
 * So when every input is a local file and together they are small, one thread starts; the others
 * start when tasks wait for them (ThreadPool's startThreads), so a small input cut into many tasks
 * (--split-size) still gets them all. Otherwise (a large file, a folder, a glob, a store URL, a
 * table source) all start at once, as early as possible.
 */
import { statSync } from "node:fs";
import { resolve } from "node:path";

/** Below this, one split's work is far less than a thread's start. */
const SMALL_INPUT_BYTES = 1 << 20;

export function threadsToStart(threads: number, inputs: readonly string[] | undefined, cwd = process.cwd()): number {
  if (!inputs?.length) return threads;
  let bytes = 0;
  for (const input of inputs) {
    const stat = statSync(resolve(cwd, input), { throwIfNoEntry: false });
    if (!stat?.isFile()) return threads; // a folder, a glob, a URL, or missing (the runner says so)
    bytes += stat.size;
  }
  return bytes < SMALL_INPUT_BYTES ? 1 : threads;
}
