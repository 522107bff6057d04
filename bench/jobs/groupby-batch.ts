/**
 * ETL benchmark, Sheaf fast path: count, sum and mean of `amount` per (country, category) over a
 * Parquet file. `mapBatch` gets each apache-arrow RecordBatch, pre-aggregates it in place over the
 * raw column buffers (the same loop as the hand-written baseline, from groupby-kernel.mjs) and
 * emits one `{ n, sum }` partial per group per batch; combine and reduce merge the partials.
 *
 *   npx sheaf run bench/jobs/groupby-batch.ts --input bench/data/etl/groupby-10000000.parquet --output out/g --threads 2
 */
import type { RecordBatch } from "apache-arrow";
import { csv, defineJob, parquet } from "sheaf";
import { aggregateBatch, forEachGroup, Interner, type Acc, mergeAccs } from "./groupby-kernel.mjs";

/** Country ids, per worker thread (the job module is loaded once per thread). */
const interner = new Interner();

const merge = mergeAccs;

export default defineJob({
  name: "etl-groupby-batch",
  input: parquet({ columns: ["country", "category", "amount"] }), // what the hand loop reads too
  mapBatch(batch: RecordBatch, emit) {
    const groups: Map<number, Acc>[] = [];
    aggregateBatch(batch, interner, groups);
    forEachGroup(interner, groups, (country, category, acc) => emit([country, category], acc));
  },
  combine: (_key, partials: Iterable<Acc>) => merge(partials),
  reduce([country, category]: [string, number], partials: Iterable<Acc>) {
    const { n, sum } = merge(partials);
    return { country, category, n, sum, mean: sum / n };
  },
  output: csv(),
});
