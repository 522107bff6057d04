import { defineJob, lines } from "sheaf";

/** Does nothing, as fast as possible: each task is pure scheduling and bookkeeping. */
export default defineJob({
  name: "empty",
  input: lines(),
  map() {},
  reduce: () => undefined,
  partitions: 1,
  speculative: false,
});
