/**
 * Outputs in an S3-compatible store (s3rver here), which has no rename: attempts upload their parts
 * to staging keys under `_temporary/<job>/`; the job commit copies the committed ones to their
 * final keys and writes `_SUCCESS` last, a manifest listing them. The parts must equal `sheaf run`'s
 * on a local folder byte for byte; a failed job must leave no part and no staging object, and an
 * overwrite must keep the previous output whole (by its manifest) until the new one lands.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wordcountOracle, writeCorpus } from "./fault-kit.js";
import { CLI, EXAMPLE_JOBS, FIXTURE_JOBS, parseTsv, partFiles, REPO, Scratch } from "./helpers.js";
import { readOutput, storeCluster, type ObjectStore } from "./object-store.js";

const s = new Scratch("object-outputs");
const env = storeCluster(s);
const cluster = env.cluster;
const WORDCOUNT = join(EXAMPLE_JOBS, "wordcount.ts");
let store: ObjectStore;
const sheaf = (args: string[]) => env.sheaf(args);
let files: string[] = [];


/** Every key under `prefix`, relative to it. */
async function keys(prefix: string): Promise<string[]> {
  const r = await store.client().send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key!.slice(prefix.length)).sort();
}
/** The output as an independent reader gets it: the manifest's parts, in its order, as text. */
async function manifestParts(prefix: string): Promise<{ names: string[]; texts: string[]; job: string }> {
  const { job, names, parts } = await readOutput(store, prefix);
  return { job, names, texts: parts.map((b) => b.toString("utf8")) };
}
function counts(texts: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of texts) for (const [k, v] of parseTsv(t)) m.set(k!, Number(v));
  return m;
}

beforeAll(async () => {
  await env.start();
  store = env.store();
  files = writeCorpus(s, "corpus", 3, 200_000, 400, 11);
}, 60_000);
afterAll(() => env.stop());

describe("outputs in an object store", () => {
  it("sheaf run writes the same parts as to a folder, then _SUCCESS listing them; nothing else is left", async () => {
    const local = s.fresh("local");
    expect(sheaf(["run", WORDCOUNT, "-i", ...files, "-o", local, "--split-size", "128k", "--workdir", s.path("wd"), "-q"]).status).toBe(0);
    const r = sheaf(["run", WORDCOUNT, "-i", ...files, "-o", `s3://${store.bucket}/wc`, "--split-size", "128k", "--workdir", s.path("wd"), "-q"]);
    expect(r.status, r.stderr).toBe(0);
    const { names, texts, job } = await manifestParts("wc/");
    expect(names).toEqual([0, 1, 2, 3].map((i) => `part-0000${i}-${job}`));
    expect(texts).toEqual(partFiles(local).map((p) => p.bytes.toString("utf8")));
    expect(counts(texts)).toEqual(wordcountOracle(files));
    expect(await keys("wc/")).toEqual([...names, "_SUCCESS"].sort());
    // Written again without --overwrite: refused, the output as it was.
    const again = sheaf(["run", WORDCOUNT, "-i", ...files, "-o", `s3://${store.bucket}/wc`, "--workdir", s.path("wd")]);
    expect(again.status).toBe(1);
    expect(again.stderr.trim()).toBe(`sheaf: output s3://${store.bucket}/wc already holds a finished job's output (_SUCCESS): pass --overwrite to replace it`);
    expect((await manifestParts("wc/")).job).toBe(job);
  });

  it("a failed job leaves the previous output whole and no staging object; --overwrite replaces it, and the old parts go", async () => {
    const first = sheaf(["run", WORDCOUNT, "-i", files[0]!, "-o", `s3://${store.bucket}/ow/`, "--workdir", s.path("wd"), "-q"]);
    expect(first.status, first.stderr).toBe(0);
    const before = await manifestParts("ow/");
    const bad = readFileSync(files[1]!, "utf8").split("\n")[3];
    const failed = sheaf(["run", join(FIXTURE_JOBS, "boom.ts"), "-i", ...files, "-o", `s3://${store.bucket}/ow/`, "--overwrite", "--max-attempts", "1", "--param", "fail=map", "--param", `bad=${bad}`, "--workdir", s.path("wd"), "-q"]);
    expect(failed.status).toBe(1);
    expect(await manifestParts("ow/")).toEqual(before);
    expect(await keys("ow/")).toEqual([...before.names, "_SUCCESS"].sort()); // no _temporary/ left
    const replaced = sheaf(["run", WORDCOUNT, "-i", ...files, "-o", `s3://${store.bucket}/ow/`, "--overwrite", "--workdir", s.path("wd"), "-q"]);
    expect(replaced.status, replaced.stderr).toBe(0);
    const after = await manifestParts("ow/");
    expect(after.job).not.toBe(before.job);
    expect(counts(after.texts)).toEqual(wordcountOracle(files));
    expect(await keys("ow/")).toEqual([...after.names, "_SUCCESS"].sort());
  });

  it("on a cluster: the same parts as sheaf run's; a later stage reads the output by its manifest", async () => {
    const r = await cluster.run(["submit", WORDCOUNT, "-i", ...files, "-o", `s3://${store.bucket}/cl/`, "--split-size", "128k", "--wait", "-q"], store.env);
    expect(r.code, r.output).toBe(0);
    const onCluster = await manifestParts("cl/");
    const embedded = await manifestParts("wc/");
    expect(onCluster.texts).toEqual(embedded.texts);
    expect(await keys("cl/")).toEqual([...onCluster.names, "_SUCCESS"].sort());
    // A stray part beside the manifest's (a killed job's, say) is not read: the manifest is.
    await store.client().send(new PutObjectCommand({ Bucket: store.bucket, Key: "cl/part-00000-stray", Body: "stray 1000\n" }));
    const reread = s.fresh("reread");
    const r2 = sheaf(["run", WORDCOUNT, "-i", `s3://${store.bucket}/cl/`, "-o", reread, "--workdir", s.path("wd"), "-q"]);
    expect(r2.status, r2.stderr).toBe(0);
    // Word count over the parts' text: each "word<TAB>n" line gives the word and the number.
    const expected = new Map<string, number>();
    for (const t of onCluster.texts) for (const w of t.toLowerCase().match(/[a-z0-9]+/g) ?? []) expected.set(w, (expected.get(w) ?? 0) + 1);
    expect(counts(partFiles(reread).map((p) => p.bytes.toString("utf8")))).toEqual(expected);
  });

  it("an ETL chain through the store: CSV on the store → Parquet on the store → Parquet read by row groups, equal to the same chain on local folders", async () => {
    const orders = join(EXAMPLE_JOBS, "data/orders.csv");
    await store.client().send(new PutObjectCommand({ Bucket: store.bucket, Key: "etl/raw/orders.csv", Body: readFileSync(orders) }));
    // Small splits: most start mid-file, so each reads the header from the object's first line.
    const wd = ["--workdir", s.path("wd"), "--split-size", "2k", "-q"];
    const local = [s.fresh("clean"), s.fresh("revenue")];
    expect(sheaf(["run", join(EXAMPLE_JOBS, "clean-orders.ts"), "-i", orders, "-o", local[0]!, ...wd]).status).toBe(0);
    expect(sheaf(["run", join(EXAMPLE_JOBS, "daily-revenue.ts"), "-i", local[0]!, "-o", local[1]!, ...wd]).status).toBe(0);
    const clean = sheaf(["run", join(EXAMPLE_JOBS, "clean-orders.ts"), "-i", `s3://${store.bucket}/etl/raw/orders.csv`, "-o", `s3://${store.bucket}/etl/clean`, ...wd]);
    expect(clean.status, clean.stderr).toBe(0);
    const revenue = s.fresh("revenue-from-store");
    const r = sheaf(["run", join(EXAMPLE_JOBS, "daily-revenue.ts"), "-i", `s3://${store.bucket}/etl/clean/`, "-o", revenue, ...wd]);
    expect(r.status, r.stderr).toBe(0);
    expect(partFiles(revenue)).toEqual(partFiles(local[1]!));
    // The clean stage's Parquet parts too, byte for byte.
    expect((await readOutput(store, "etl/clean/")).parts).toEqual(partFiles(local[0]!).map((p) => p.bytes));
  });

  it("Arrow IPC on the store: written there, then read back by record batch, equal to the same on local folders", async () => {
    const wd = ["--workdir", s.path("wd"), "-q"];
    const clean = s.fresh("arrow-clean");
    expect(sheaf(["run", join(EXAMPLE_JOBS, "clean-orders.ts"), "-i", join(EXAMPLE_JOBS, "data/orders.csv"), "-o", clean, ...wd]).status).toBe(0);
    const toArrow = s.write("to-arrow.ts", `import { defineJob, parquet, arrow } from "sheaf";
export default defineJob({ name: "to-arrow", input: parquet(), map: (r, emit) => emit(String(r.order_id), r),
  output: arrow({ schema: { order_id: "int64", customer: "string", country: "string", amount: "float64", ordered_at: "timestamp", day: "string" } }) });
`);
    const count = s.write("count-arrow.ts", `import { defineJob, arrow, sum, tsv } from "sheaf";
export default defineJob({ name: "count-arrow", input: arrow(), map: (r, emit) => emit(String(r.country), 1), reduce: (_k, ns: Iterable<number>) => sum(ns), output: tsv() });
`);
    const [localArrow, localCount, storeCount] = [s.fresh("arrow-local"), s.fresh("count-local"), s.fresh("count-store")];
    expect(sheaf(["run", toArrow, "-i", clean, "-o", localArrow, ...wd]).status).toBe(0);
    expect(sheaf(["run", count, "-i", localArrow, "-o", localCount, "--split-size", "1", ...wd]).status).toBe(0);
    const written = sheaf(["run", toArrow, "-i", clean, "-o", `s3://${store.bucket}/arrow/`, ...wd]);
    expect(written.status, written.stderr).toBe(0);
    const read = sheaf(["run", count, "-i", `s3://${store.bucket}/arrow/`, "-o", storeCount, "--split-size", "1", ...wd]);
    expect(read.status, read.stderr).toBe(0);
    expect((await readOutput(store, "arrow/")).parts).toEqual(partFiles(localArrow).map((p) => p.bytes));
    expect(partFiles(storeCount)).toEqual(partFiles(localCount));
  });

  for (const step of ["parts", "swapped"] as const) {
    it(`a commit that fails after its ${step} step: ${step === "parts" ? "no part visible and no staging object left; the previous output whole" : "the output is the new one (its manifest landed), the old parts and staging objects swept"}`, async () => {
      const prefix = `fail-${step}/`;
      expect(sheaf(["run", WORDCOUNT, "-i", files[0]!, "-o", `s3://${store.bucket}/${prefix}`, "--workdir", s.path("wd"), "-q"]).status).toBe(0);
      const before = await manifestParts(prefix);
      const r = spawnSync(process.execPath, [CLI, "run", WORDCOUNT, "-i", ...files, "-o", `s3://${store.bucket}/${prefix}`, "--overwrite", "--workdir", s.path("wd"), "-q"], {
        cwd: REPO, encoding: "utf8", env: { ...process.env, ...store.env, SHEAF_TEST_KILL_AFTER_COMMIT_STEP: `throw:${step}` },
      });
      const now = await manifestParts(prefix);
      if (step === "parts") {
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`the commit failed after its step "parts"`);
        expect(now).toEqual(before);
      } else {
        expect(counts(now.texts)).toEqual(wordcountOracle(files));
      }
      expect(await keys(prefix)).toEqual([...now.names, "_SUCCESS"].sort());
    });
  }
});
