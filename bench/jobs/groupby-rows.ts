/**
 * ETL benchmark, the idiomatic per-row version of groupby-batch.ts: `map` gets one row object per
 * record (int64 `id` as a bigint) and emits `{ n: 1, sum: amount }` per row; combine pre-aggregates
 * map-side, reduce merges.
 *
 *   npx sheaf run bench/jobs/groupby-rows.ts --input bench/data/etl/groupby-10000000.parquet --output out/g --threads 2
 */
import { csv, defineJob, parquet } from "sheaf";
import { mergeAccs, type Acc } from "./groupby-kernel.mjs";

interface Row {
  id: bigint;
  country: string;
  category: number;
  amount: number;
}

const merge = mergeAccs;

export default defineJob({
  name: "etl-groupby-rows",
  input: parquet({ columns: ["country", "category", "amount"] }),
  map(row: Row, emit) {
    emit([row.country, row.category], { n: 1, sum: row.amount });
  },
  combine: (_key, partials: Iterable<Acc>) => merge(partials),
  reduce([country, category]: [string, number], partials: Iterable<Acc>) {
    const { n, sum } = merge(partials);
    return { country, category, n, sum, mean: sum / n };
  },
  output: csv(),
});
