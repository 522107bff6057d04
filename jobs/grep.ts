import { defineJob, FatalError, lines } from "sheaf";

// One per thread: setup compiles it before the task's first record.
let pattern: RegExp;

/**
 * Map-only: writes every line that matches `--param pattern=<regex>` (with `--param flags=i` for
 * case-insensitive), one part file per map task, in input order.
 */
export default defineJob({
  name: "grep",
  input: lines(),
  setup(ctx) {
    // A missing or bad pattern is the same on every attempt: FatalError, so it is not retried.
    if (ctx.params.pattern === undefined) throw new FatalError("grep needs --param pattern=<regex>");
    try {
      pattern = new RegExp(ctx.params.pattern, (ctx.params.flags ?? "").replace(/[gy]/g, ""));
    } catch (err) {
      throw new FatalError(`grep: bad pattern: ${(err as Error).message}`);
    }
  },
  map(line: string, emit, ctx) {
    if (pattern.test(line)) {
      ctx.counter("matched-lines").inc();
      emit(line);
    }
  },
});
