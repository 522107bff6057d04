/**
 * `npm run demo:etl`: generates a week of raw CSV orders (a few malformed rows each day) under
 * demo-data/orders/<date>/, then runs the orders-nightly pipeline (jobs/orders-nightly.ts) for each
 * day on this machine's threads: clean Parquet, then revenue per day and country as Parquet (and
 * the PostgreSQL table daily_revenue when DATABASE_URL is set). Run it twice: the second time
 * every stage is skipped, its output already committed with the same fingerprint.
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { JOB_DEFAULTS } from "../runner/job-settings.js";
import { runJob } from "../runner/run.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const ORDERS = join(ROOT, "demo-data", "orders");
const WAREHOUSE = join(ROOT, "demo-output", "warehouse");
const DAYS = 7;

const CUSTOMERS = ["Acme Corp", "Globex, Inc.", "Initech", 'Umbrella "Bio" Ltd', "Stark Industries", "Hooli"];
const COUNTRIES = ["de", "FR", "us", "GB", "jp", "BR"];

/** One day's orders: deterministic per day, with a malformed row of each kind the cleaning stage meets. */
function generateDay(day: string, seed: number): string {
  let s = seed;
  const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const quote = (v: string) => (/[",]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const lines = ["order_id,customer,country,amount,ordered_at"];
  for (let i = 0; i < 2000; i++) {
    const id = seed * 100_000 + i;
    const at = `${day}T${String(Math.floor(random() * 24)).padStart(2, "0")}:${String(Math.floor(random() * 60)).padStart(2, "0")}:00Z`;
    const amount = (random() * 500 - 10).toFixed(2);
    let line = [id, quote(CUSTOMERS[Math.floor(random() * CUSTOMERS.length)]!), COUNTRIES[Math.floor(random() * COUNTRIES.length)], amount, at].join(",");
    if (i === 17) line = `${id},"Initech,us,12.50,${at}`; // an unclosed quote
    if (i === 404) line = `${id},Hooli,de,n/a,${at}`; // not a number
    if (i === 999) line = `${id},Acme Corp,FR,10.00`; // a missing field
    lines.push(line);
  }
  return lines.join("\n") + "\n";
}

async function main(): Promise<void> {
  const today = new Date();
  const days = Array.from({ length: DAYS }, (_, i) => new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - DAYS + i)).toISOString().slice(0, 10));
  days.forEach((day, i) => {
    const dir = join(ORDERS, day);
    const file = join(dir, "orders.csv");
    if (existsSync(file)) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(file + ".tmp", generateDay(day, i + 1));
    renameSync(file + ".tmp", file);
  });
  process.stderr.write(`orders for ${days[0]} … ${days.at(-1)} in ${ORDERS}\n`);
  for (const day of days) {
    await runJob(join(ROOT, "jobs", "orders-nightly.ts"), {
      inputs: [],
      workdir: join(ROOT, ".sheaf"),
      threads: availableParallelism(),
      splitSize: JOB_DEFAULTS.splitSize,
      sortBufferBytes: JOB_DEFAULTS.sortBufferBytes,
      maxAttempts: JOB_DEFAULTS.maxAttempts,
      params: { orders: ORDERS, warehouse: WAREHOUSE },
      overwrite: false,
      at: day,
    });
  }
  process.stderr.write(`\nclean orders and daily revenue (Parquet) in ${WAREHOUSE}/{clean,daily}/date=<day>/; malformed rows in each clean day's _bad_records\n`);
}

main().catch((err) => {
  process.stderr.write(`demo:etl failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
