/**
 * ETL step 2: clean Parquet orders → revenue per day and country, as Parquet.
 *
 *   npx sheaf run jobs/daily-revenue.ts --input out/clean-orders --output out/daily-revenue
 */
import { defineJob, parquet } from "sheaf";

interface Order {
  order_id: bigint;
  country: string;
  amount: number;
  day: string;
}

interface Revenue {
  orders: number;
  cents: number;
}

/** Sums cents, not floats, so the total does not depend on the order values arrive in. */
function add(values: Iterable<Revenue>): Revenue {
  let orders = 0, cents = 0;
  for (const v of values) {
    orders += v.orders;
    cents += v.cents;
  }
  return { orders, cents };
}

export default defineJob({
  name: "daily-revenue",
  input: parquet(),
  map(o: Order, emit) {
    emit([o.day, o.country], { orders: 1, cents: Math.round(o.amount * 100) });
  },
  combine: (_key, values) => add(values),
  reduce([day, country]: [string, string], values: Iterable<Revenue>) {
    const { orders, cents } = add(values);
    return { day, country, orders, revenue: cents / 100 };
  },
  output: parquet({ schema: { day: "string", country: "string", orders: "int32", revenue: "float64" } }),
  partitions: 2,
});
