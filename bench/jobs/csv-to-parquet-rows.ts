/**
 * The per-row form of bench/jobs/csv-to-parquet.ts (the benchmark's job): each typed row object
 * emitted and written to zstd Parquet, one part per map task. Its output holds the same rows as the
 * batch form's (test/integration/csv-batches.test.ts checks both against DuckDB).
 *
 *   npx sheaf run bench/jobs/csv-to-parquet-rows.ts --input bench/data/etl/orders-….csv --output out/orders --threads 2
 */
import { csv, defineJob, parquet } from "sheaf";

interface Order {
  order_id: bigint;
  customer: string;
  country: string;
  quantity: number;
  amount: number | null;
  ordered_at: Date;
  note: string | null;
}

export default defineJob({
  name: "etl-csv-to-parquet-rows",
  input: csv({ columns: { order_id: "int64", quantity: "int32", amount: "float64", ordered_at: "timestamp" } }),
  map(order: Order, emit) {
    emit(order.order_id, order);
  },
  output: parquet({
    schema: { order_id: "int64", customer: "string", country: "string", quantity: "int32", amount: "float64", ordered_at: "timestamp", note: "string" },
  }),
});
