/**
 * ETL step 3: daily revenue (Parquet) → the PostgreSQL table `daily_revenue`, merged on (day,
 * country): a rerun of a day replaces that day's rows, all or nothing.
 */
import { defineJob, parquet, postgres } from "sheaf";

export default defineJob({
  name: "load-revenue",
  input: parquet(),
  map: (r: { day: string; country: string; orders: number; revenue: number }, emit) => emit([r.day, r.country], r),
  output: postgres({
    table: "daily_revenue",
    mode: "upsert",
    key: ["day", "country"],
    schema: { day: "string", country: "string", orders: "int32", revenue: "float64" },
  }),
});
