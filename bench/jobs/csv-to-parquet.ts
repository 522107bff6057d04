/**
 * ETL benchmark, CSV → Parquet (bench/etl-csv-parquet.mjs): a map-only job that types the
 * generated orders CSV (quoted strings, ints, floats with blanks, millisecond timestamps) and writes
 * every row unchanged to zstd Parquet, one part per map task. `mapBatch` gets each batch of lines
 * parsed into Arrow columns and emits it whole: the Parquet writer takes the batch as it is, and no
 * row object is made (bench/jobs/csv-to-parquet-rows.ts is the same job row by row).
 *
 *   npx sheaf run bench/jobs/csv-to-parquet.ts --input bench/data/etl/orders-….csv --output out/orders --threads 2
 */
import { csv, defineJob, parquet } from "sheaf";

export default defineJob({
  name: "etl-csv-to-parquet",
  input: csv({ columns: { order_id: "int64", quantity: "int32", amount: "float64", ordered_at: "timestamp" } }),
  mapBatch(batch, emit) {
    emit("orders", batch); // a record batch as the value: written whole (map-only, Parquet or Arrow output)
  },
  output: parquet({
    schema: { order_id: "int64", customer: "string", country: "string", quantity: "int32", amount: "float64", ordered_at: "timestamp", note: "string" },
  }),
});
