/**
 * The file piscina loads in each thread. piscina first tries `require()` on it, and Node 20.19+
 * can `require()` an ES module, synchronously; a thread terminated during that synchronous
 * instantiation (a job failing while other threads still start) aborts the whole process with a
 * V8 fatal error (`v8::Module::IsGraphAsync`). This CommonJS entry is required instead, and loads
 * the ES module thread.ts through `import()`, which a terminated thread simply abandons.
 */
type RunTask = (task: Parameters<typeof import("./thread.js", { with: { "resolution-mode": "import" } })["default"]>[0]) => ReturnType<typeof import("./thread.js", { with: { "resolution-mode": "import" } })["default"]>;
let handler: Promise<RunTask> | undefined;

module.exports = async function runTask(task: Parameters<RunTask>[0]): ReturnType<RunTask> {
  handler ??= import("./thread.js").then((m) => m.default);
  return (await handler)(task);
};
