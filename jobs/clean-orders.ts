/**
 * ETL step 1: raw CSV orders → clean Parquet. Malformed rows (an unclosed quote, an amount that is
 * not a number, an impossible timestamp, a missing field) are skipped and listed in
 * `<output>/_bad_records`; refunds (negative amounts) are dropped and counted.
 *
 *   npx sheaf run jobs/clean-orders.ts --input jobs/data/orders.csv --output out/clean-orders
 */
import { csv, defineJob, parquet } from "sheaf";

interface RawOrder {
  order_id: bigint;
  customer: string | null;
  country: string | null;
  amount: number | null;
  ordered_at: Date | null;
}

export default defineJob({
  name: "clean-orders",
  input: csv({ columns: { order_id: "int64", amount: "float64", ordered_at: "timestamp" } }),
  map(o: RawOrder, emit, ctx) {
    if (o.amount === null || o.ordered_at === null || o.country === null) return void ctx.counter("incomplete").inc();
    if (o.amount < 0) return void ctx.counter("refunds").inc();
    emit(o.order_id, {
      order_id: o.order_id,
      customer: o.customer?.trim() ?? null,
      country: o.country.trim().toUpperCase(),
      amount: o.amount,
      ordered_at: o.ordered_at,
      day: o.ordered_at.toISOString().slice(0, 10),
    });
  },
  output: parquet({
    schema: { order_id: "int64", customer: "string", country: "string", amount: "float64", ordered_at: "timestamp", day: "string" },
  }),
  skipBadRecords: 100,
});
