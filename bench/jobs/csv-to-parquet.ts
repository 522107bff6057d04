/**
 * ETL benchmark, CSV → Parquet (bench/etl-csv-parquet.mjs): a map-only job that types the
 * generated orders CSV (quoted strings, ints, floats with blanks, millisecond timestamps) and writes
 * every row unchanged to zstd Parquet, one part per map task.
 *
 *   npx sheaf run bench/jobs/csv-to-parquet.ts --input bench/data/etl/orders-….csv --output out/orders --threads 2
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
  name: "etl-csv-to-parquet",
  input: csv({ columns: { order_id: "int64", quantity: "int32", amount: "float64", ordered_at: "timestamp" } }),
  map(order: Order, emit) {
    emit(order.order_id, order);
  },
  output: parquet({
    schema: { order_id: "int64", customer: "string", country: "string", quantity: "int32", amount: "float64", ordered_at: "timestamp", note: "string" },
  }),
});
