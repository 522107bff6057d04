/**
 * Checkpoints across input formats: a map task that fails once after checkpointing resumes where
 * its checkpoint says — a CSV split after its last byte (its header read again from the file), a
 * gzip file or a Parquet row group after the records already mapped — and the output is
 * byte-identical to an undisturbed run, with every record counted once.
 */
import { writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { duckRun, sqlText } from "../support/duckdb.js";
import { resumedFromSummary } from "./fault-kit.js";
import { Scratch, outputText, runCli, runOk } from "./helpers.js";

const s = new Scratch("faults-formats");
afterAll(() => s.cleanup());

const ROWS = 60_000;
let csvFile: string;
let gzFile: string;
let parquetFile: string;

beforeAll(async () => {
  const lines = ["id,grp,amount"];
  for (let i = 0; i < ROWS; i++) lines.push(`${i},"g, ${i % 37}",${(i % 1000) / 4}`);
  const text = lines.join("\n") + "\n";
  csvFile = s.write("in/rows.csv", text);
  gzFile = s.path("gz/rows.csv.gz");
  writeFileSync(gzFile, gzipSync(text));
  parquetFile = s.path("pq/rows.parquet");
  await duckRun(`COPY (SELECT i::BIGINT AS id, 'g, ' || (i % 37) AS grp, (i % 1000) / 4 AS amount FROM range(${ROWS}) t(i)) TO ${sqlText(parquetFile)} (FORMAT parquet, ROW_GROUP_SIZE 20000)`);
});

/** Sums per group; throws on row `failAt` in attempt 1 only, after the task has checkpointed. */
const job = (format: "csv" | "parquet") => s.write(
  `jobs/sum-${format}.ts`,
  `import { defineJob, ${format}, sum } from "sheaf";
export default defineJob({
  name: "sum-${format}",
  input: ${format === "csv" ? `csv({ columns: { id: "int64", amount: "float64" } })` : "parquet()"},
  map(r: { id: bigint; grp: string; amount: number }, emit, ctx) {
    if (ctx.attempt === 1 && String(r.id) === ctx.params.failAt) throw new Error("injected failure");
    ctx.counter("records").inc();
    emit(r.grp, Math.round(Number(r.amount) * 4));
  },
  combine: (_g, vs: Iterable<number>) => sum(vs),
  reduce: (_g, vs: Iterable<number>) => sum(vs),
  partitions: 1,
});
`,
);

describe("a retried map task resumes from its checkpoint, whatever the input format", () => {
  for (const [what, format, input] of [["CSV", "csv", () => csvFile], ["gzip CSV", "csv", () => gzFile], ["Parquet", "parquet", () => parquetFile]] as const) {
    it(`${what}: the retry skips what the checkpoint covers; output identical, records counted once`, () => {
      const workdir = s.path(`wd-${what}`);
      const baseline = s.fresh("base");
      runOk({ job: job(format), inputs: [input()], output: baseline, workdir });
      const out = s.fresh("resumed");
      // Checkpoint after every read batch (the line reader's 1 MiB, csv-parse's batches, Parquet's 64 Ki-row batches).
      const r = runCli(["run", job(format), "--input", input(), "--output", out, "--workdir", workdir, "--checkpoint-every", "1", "--no-speculative", "--param", `failAt=${ROWS - 10}`, "--threads", "1"]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/task map-00000 attempt 1 failed \(will retry\): map threw .*injected failure/);
      expect(outputText(out)).toBe(outputText(baseline));
      expect(r.stderr).toMatch(new RegExp(`counters\\s+records=${ROWS.toLocaleString("en-US")}\\b`));
      const resumed = resumedFromSummary(r.stderr);
      if (format === "parquet") expect(r.stderr).toMatch(/resumed from checkpoints/);
      else expect(resumed?.bytes ?? 0).toBeGreaterThan(0);
    });
  }
});
