/**
 * The ETL example jobs over the sample in jobs/data/orders.csv: clean-orders (CSV with malformed
 * rows → Parquet, bad rows listed) then daily-revenue (Parquet → revenue per day and country),
 * checked against a plain loop over the CSV, with the Parquet read back by DuckDB.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { duckRows, sqlText } from "../support/duckdb.js";
import { EXAMPLE_JOBS, Scratch, runOk } from "./helpers.js";

const s = new Scratch("etl-example");
afterAll(() => s.cleanup());

const SAMPLE = join(EXAMPLE_JOBS, "data/orders.csv");

/** The sample parsed by hand: rows with five well-formed fields, a numeric amount and a real timestamp. */
function oracle() {
  const good: { id: bigint; country: string; amount: number; day: string }[] = [];
  const bad: number[] = [];
  let refunds = 0;
  readFileSync(SAMPLE, "utf8").split("\n").slice(1, -1).forEach((line, i) => {
    const m = /^(\d+),("(?:[^"]|"")*"|[^,"]*),([^,]*),([^,]*),(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):00Z$/.exec(line);
    const ok = m && /^-?\d+(\.\d+)?$/.test(m[4]!) && Number(m[6]) <= 12 && Number(m[7]) <= 31;
    if (!ok) return void bad.push(i + 2);
    const amount = Number(m[4]);
    if (amount < 0) return void refunds++;
    good.push({ id: BigInt(m[1]!), country: m[3]!.toUpperCase(), amount, day: `${m[5]}-${m[6]}-${m[7]}` });
  });
  return { good, bad, refunds };
}

describe("ETL example: clean-orders → daily-revenue", () => {
  it("cleans the sample into Parquet, lists the malformed rows, and sums revenue per day and country", async () => {
    const want = oracle();
    expect(want.bad.length).toBeGreaterThanOrEqual(4);
    const workdir = s.path("workdir");
    const clean = s.fresh("clean");
    const r = runOk({ job: join(EXAMPLE_JOBS, "clean-orders.ts"), inputs: [SAMPLE], output: clean, workdir, splitSize: "4k", quiet: false });
    expect(r.stderr).toMatch(new RegExp(`refunds=${want.refunds}\\b`));
    const rows = await duckRows(`SELECT order_id, country, amount, day FROM read_parquet(${sqlText(clean + "/*.parquet")}) ORDER BY order_id`);
    expect(rows.map((x) => [x.order_id, x.country, x.amount, x.day])).toEqual(want.good.map((g) => [g.id, g.country, g.amount, g.day]));
    const listed = readFileSync(join(clean, "_bad_records"), "utf8").trim().split("\n").slice(1).map((l) => Number(l.split("\t")[2]));
    expect(listed).toEqual(want.bad);

    const daily = s.fresh("daily");
    runOk({ job: join(EXAMPLE_JOBS, "daily-revenue.ts"), inputs: [clean], output: daily, workdir });
    const sums = new Map<string, { orders: number; cents: number }>();
    for (const g of want.good) {
      const k = `${g.day}|${g.country}`;
      const cur = sums.get(k) ?? { orders: 0, cents: 0 };
      cur.orders++;
      cur.cents += Math.round(g.amount * 100);
      sums.set(k, cur);
    }
    const got = await duckRows(`SELECT day, country, orders, revenue FROM read_parquet(${sqlText(daily + "/*.parquet")}) ORDER BY day, country`);
    expect(got.map((x) => [`${x.day}|${x.country}`, x.orders, x.revenue])).toEqual(
      [...sums].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.orders, v.cents / 100]),
    );
  });
});
