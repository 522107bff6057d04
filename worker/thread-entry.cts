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

module.exports = async function runTask(task: Parameters<Thread["default"]>[0]): ReturnType<Thread["default"]> {
  return (await load()).default(task);
};

/** Short tasks of a batch (ThreadPool.runBatch calls it by name): without it every batch failed and ran task by task. */
module.exports.runTasks = async function runTasks(tasks: Parameters<Thread["runTasks"]>[0]): ReturnType<Thread["runTasks"]> {
  return (await load()).runTasks(tasks);
};
