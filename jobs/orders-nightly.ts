/**
 * The nightly orders pipeline: raw CSV orders of the logical day → clean Parquet (malformed rows
 * skipped and listed in `_bad_records`) → revenue per day and country as Parquet, and loaded into
 * PostgreSQL (table `daily_revenue`) when DATABASE_URL is set where the pipeline is loaded.
 *
 *   npx sheaf run jobs/orders-nightly.ts --at 2026-11-28 --param orders=data/orders
 *
 * `{date}` is the logical day (`--at`, or a schedule's due time); `{orders}` the folder of raw orders.
 */
import { definePipeline } from "sheaf";
import clean from "./clean-orders.js";
import daily from "./daily-revenue.js";
import load from "./load-revenue.js";

export default definePipeline({
  name: "orders-nightly",
  stages: {
    clean: { job: clean, input: "{orders}/{date}", output: "{warehouse}/clean/date={date}", params: { orders: "data/orders", warehouse: "warehouse" } },
    daily: { job: daily, input: "clean", output: "{warehouse}/daily/date={date}", params: { warehouse: "warehouse" } },
    ...(process.env.DATABASE_URL ? { load: { job: load, input: "daily" } } : {}),
  },
});
