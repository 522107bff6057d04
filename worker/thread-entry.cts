/**
 * The file piscina loads in each thread. piscina first tries `require()` on it, and Node 20.19+
 * can `require()` an ES module, synchronously; a thread terminated during that synchronous
 * instantiation (a job failing while other threads still start) aborts the whole process with a
 * V8 fatal error (`v8::Module::IsGraphAsync`). This CommonJS entry is required instead, and loads
 * the ES module thread.ts through `import()`, which a terminated thread simply abandons.
 */
type Thread = typeof import("./thread.js", { with: { "resolution-mode": "import" } });
let thread: Promise<Thread> | undefined;
const load = () => (thread ??= import("./thread.js"));
// Loaded as the thread starts, not at its first task: a pool is started before the job is bundled
// and planned (runner/run.ts), so the task code is ready by the time the first task comes. A
// failure is the first task's to report.
load().catch(() => {});

// The pool's word of a job about to run (ThreadPool.prepare): its code and formats loaded now.
const threads = require("node:worker_threads") as typeof import("node:worker_threads");
const { warmChannel } = (threads.workerData ?? {}) as { warmChannel?: string };
if (warmChannel) {
  const channel = new threads.BroadcastChannel(warmChannel);
  channel.unref(); // never what keeps a thread alive
  channel.onmessage = (e) => {
    load().then((t) => t.prepare((e as { data: Parameters<Thread["prepare"]>[0] }).data)).catch(() => {});
  };
}

module.exports = async function runTask(task: Parameters<Thread["default"]>[0]): ReturnType<Thread["default"]> {
  return (await load()).default(task);
};

/** Short tasks of a batch (ThreadPool.runBatch calls it by name): without it every batch failed and ran task by task. */
module.exports.runTasks = async function runTasks(tasks: Parameters<Thread["runTasks"]>[0]): ReturnType<Thread["runTasks"]> {
  return (await load()).runTasks(tasks);
};
