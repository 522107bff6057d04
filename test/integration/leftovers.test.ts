/**
 * What a killed job leaves behind is collected (issue 24, finding 4). A `sheaf run` SIGKILLed with
 * one partition's rows committed to its PostgreSQL staging table, the other still running, left the
 * table (`sheaf_stage_<hash>_reduce…`) and its scratch folder forever. The next `sheaf run` into the
 * same sink drops the dead run's staging tables (before it starts) and removes its scratch folder;
 * the rows it loads match a count made here by a plain loop, each once.
 * On a cluster, the coordinator's retention removes the scratch folder of a job whose record is gone,
 * if its mark names the coordinator's prefix: another cluster's, or an unmarked one, stays.
 */
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "./cluster-harness.js";
import { runAsync, until } from "./fault-kit.js";
import { Scratch } from "./helpers.js";

const DB = (process.env.DATABASE_URL ??= "postgres://postgres@127.0.0.1:5432/test");
const s = new Scratch("leftovers");
const db = new pg.Client({ connectionString: DB });
const schema = `sheaf_it_left_${process.pid}_${Date.now().toString(36)}`;
const words = Array.from({ length: 400 }, (_, i) => `w${(i * 7) % 31}`);
const oracle = new Map<string, number>();
for (const w of words) oracle.set(w, (oracle.get(w) ?? 0) + 1);

beforeAll(async () => {
  await db.connect();
  await db.query(`CREATE SCHEMA ${schema}`);
});
afterAll(async () => {
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.end();
  s.cleanup();
});

const stagingTables = async () =>
  (await db.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'sheaf\\_stage\\_%'`, [schema])).rows.map((r) => r.t);

describe("sheaf run, killed with a staging table committed", () => {
  it("the next run into the sink drops the dead run's staging tables and removes its scratch folder; rows loaded once", async () => {
    const input = s.write("in/words.txt", words.join("\n") + "\n");
    // Word count into PostgreSQL; with holdMs, partition 1's reduce waits in setup (partition 0 commits its staging meanwhile).
    const job = s.write("job.ts", `import { defineJob, lines, postgres, sum } from "sheaf";
export default defineJob({
  name: "left",
  input: lines(),
  map(w: string, emit) { emit(w, 1); },
  setup(ctx) { const ms = Number(ctx.params.holdMs ?? 0); if (ms && ctx.taskId === "reduce-00001") Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); },
  reduce: (w: string, n: Iterable<number>) => ({ word: w, n: sum(n) }),
  partitions: 2,
  output: postgres({ table: ${JSON.stringify(`${schema}.counts`)}, mode: "append", schema: { word: "string", n: "int32" } }),
});
`);
    const workdir = s.path("wd");
    const args = ["run", job, "-i", input, "--workdir", workdir, "-t", "2", "-q"];
    const killed = runAsync([...args, "--param", "holdMs=60000"]);
    await until("partition 0's staging table", async () => (await stagingTables()).length > 0, 60_000, 50);
    process.kill(killed.pid, "SIGKILL");
    expect((await killed.done).signal).toBe("SIGKILL");
    const left = await stagingTables();
    expect(left.length).toBeGreaterThan(0);
    expect(readdirSync(join(workdir, "jobs"))).toHaveLength(1);

    const next = await runAsync(args).done;
    expect(next.status, next.stderr).toBe(0);
    expect(await stagingTables()).toEqual([]);
    expect(readdirSync(join(workdir, "jobs"))).toEqual([]);
    const { rows } = await db.query<{ word: string; n: number }>(`SELECT word, n FROM ${schema}.counts`);
    const loaded = new Map<string, number>();
    for (const r of rows) {
      expect(loaded.has(r.word), `${r.word} loaded twice`).toBe(false);
      loaded.set(r.word, r.n);
    }
    expect(loaded).toEqual(oracle);
  }, 120_000);

  it("a live run's scratch folder and a cluster job's are left alone by sheaf run", async () => {
    const workdir = s.path("wd2");
    const job = s.write("tiny.ts", `import { defineJob, lines, tsv } from "sheaf";\nexport default defineJob({ name: "tiny", input: lines(), map(l: string, emit) { emit(l, 1); }, output: tsv() });\n`);
    const input = s.write("in/one.txt", "a\n");
    // A folder marked by a live process (this test's), and one of a cluster job (no mark).
    mkdirSync(join(workdir, "jobs", "live-20260101000000-abc123"), { recursive: true });
    writeFileSync(join(workdir, "jobs", "live-20260101000000-abc123", "sheaf-run.owner"), JSON.stringify({ jobId: "live-20260101000000-abc123", by: "run", pid: process.pid, host: (await import("node:os")).hostname(), since: 0 }));
    mkdirSync(join(workdir, "jobs", "clu-20260101000000-abc123"), { recursive: true });
    const r = await runAsync(["run", job, "-i", input, "-o", s.path("out2"), "--workdir", workdir, "-q"]).done;
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(workdir, "jobs")).sort()).toEqual(["clu-20260101000000-abc123", "live-20260101000000-abc123"]);
  }, 60_000);
});

describe("a cluster's retention", () => {
  const cluster = new Cluster(s.path("cluster-wd"));
  afterAll(async () => {
    await cluster.stop();
    cluster.assertNoLeaks();
  });

  it("removes the scratch folder of a job Redis does not know as unfinished, once past the grace period; a young one stays", async () => {
    await cluster.startRedis();
    await cluster.coordinator(["--artifact-grace", "1s"]);
    await cluster.worker(1);
    const job = s.write("c.ts", `import { defineJob, lines, tsv } from "sheaf";\nexport default defineJob({ name: "c", input: lines(), map(l: string, emit) { emit(l, 1); }, output: tsv() });\n`);
    const input = s.write("in/c.txt", "x\ny\n");
    // A job run, so the coordinator knows the workdir.
    const r = await cluster.run(["submit", job, "-i", input, "-o", s.path("out-c"), "--wait", "-q"]);
    expect(r.code, r.output).toBe(0);
    const jobs = join(cluster.workdir, "jobs");
    // A wiped job's folder (an old job id), and one whose id is of now (it may be a job being submitted).
    const old = join(jobs, "wiped-20250101000000-abc123");
    mkdirSync(join(old, "map-00000"), { recursive: true });
    writeFileSync(join(old, "map-00000", "spill"), "x");
    writeFileSync(join(old, "sheaf-cluster.owner"), JSON.stringify({ prefix: "sheaf" })); // as its coordinator marked it
    // Another cluster's (another prefix sharing the workdir), and one nobody marked: never touched.
    const theirs = join(jobs, "theirs-20250101000000-abc123");
    mkdirSync(theirs, { recursive: true });
    writeFileSync(join(theirs, "sheaf-cluster.owner"), JSON.stringify({ prefix: "other" }));
    const unmarked = join(jobs, "unmarked-20250101000000-abc123");
    mkdirSync(unmarked, { recursive: true });
    // Stamped ahead of now (the grace here is 1 s, shorter than a retention pass can be relied on): younger than the grace throughout.
    const stamp = new Date(Date.now() + 600_000).toISOString().replace(/[-:T]/g, "").slice(0, 14);
    const young = join(jobs, `young-${stamp}-abc123`);
    mkdirSync(young, { recursive: true });
    writeFileSync(join(young, "sheaf-cluster.owner"), JSON.stringify({ prefix: "sheaf" }));
    utimesSync(young, new Date(), new Date());
    await until("the wiped job's folder to go", () => !existsSync(old), 90_000, 200);
    expect(existsSync(young)).toBe(true);
    expect(existsSync(theirs)).toBe(true);
    expect(existsSync(unmarked)).toBe(true);
  }, 120_000);
});
