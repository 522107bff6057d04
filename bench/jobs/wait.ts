import { defineJob, lines } from "sheaf";

/**
 * bench/jobs/empty.ts with each task waiting `--param taskMs=N` ms first: a job of many short tasks
 * that lasts long enough to see what runs beside it (bench/dashboard-cost.mjs).
 */
export default defineJob({
  name: "wait",
  input: lines(),
  setup(ctx) {
    const ms = Number(ctx.params.taskMs ?? 0);
    if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  },
  map() {},
  reduce: () => undefined,
  partitions: 1,
  speculative: false,
});
