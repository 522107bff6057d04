/**
 * One writer per output (issue "Found by fault injection", finding 1): two jobs started at once on
 * one output folder used to fail each other, and the loser's abort deleted the winner's committed
 * output. Now the second is refused while the first runs, naming it, and the output is the first's,
 * complete, checked against a plain word count; on `sheaf run` and on a cluster (submit is refused
 * before queuing, and a job queued anyway fails at its coordinator). A lock left by a killed run is
 * taken over.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { hostname } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writerLockPath } from "../../core/output-writer-lock.js";
import { stagingDir } from "../../core/storage.js";
import { Cluster } from "./cluster-harness.js";
import { FAULTY, params, runAsync, until, wordcountOracle, writeCorpus, expectOracle } from "./fault-kit.js";
import { Scratch, runCli } from "./helpers.js";

const s = new Scratch("one-writer");
let files: string[] = [];
let other: string[] = [];

beforeAll(() => {
  files = writeCorpus(s, "corpus", 3, 6_000, 40, 3);
  other = writeCorpus(s, "other", 2, 5_000, 30, 9);
});
afterAll(() => s.cleanup());

describe("two jobs on one output", () => {
  it("sheaf run: the second is refused while the first runs; the output is the first's, whole", async () => {
    const out = s.path("out-run");
    const args = ["run", FAULTY, "-i", ...files, "-o", out, "--split-size", "4k", "--workdir", s.path("wd"), "-q"];
    const first = runAsync([...args, ...params({ taskMs: 400 })]);
    await new Promise((r) => setTimeout(r, 700)); // planned and holding the output
    const second = await runAsync([...args, "--overwrite"]).done;
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`sheaf: output ${out} is being written by job faulty-\\S+ \\(sheaf run, pid ${first.pid} on ${hostname()}`));
    expect((await first.done).status).toBe(0);
    expectOracle(out, wordcountOracle(files));
    // Free again once the first ended.
    const third = runCli([...args, "--overwrite"]);
    expect(third.status, third.stderr).toBe(0);
  }, 60_000);

  it("sheaf run --wait-for-output: the second waits for the first to end, then replaces its output", async () => {
    const out = s.path("out-wait");
    const base = ["run", FAULTY, "-o", out, "--split-size", "4k", "--workdir", s.path("wd")];
    const first = runAsync([...base, "-i", ...files, "-q", ...params({ taskMs: 1_500 })]);
    await until("the first to take the output", () => existsSync(writerLockPath(out)), 30_000, 10);
    const second = runAsync([...base, "-i", ...other, "--overwrite", "--wait-for-output"]);
    const [a, b] = [await first.done, await second.done];
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stderr).toMatch(new RegExp(`faulty: waiting \\(--wait-for-output\\): output ${out} is being written by job faulty-\\S+ \\(sheaf run, pid ${first.pid}`));
    expectOracle(out, wordcountOracle(other));
  }, 60_000);

  it("a lock left by a killed sheaf run is taken over, and what its commit left beside the output cleared", () => {
    const out = s.path("out-stale");
    writeFileSync(writerLockPath(out), JSON.stringify({ jobId: "dead-1", by: "run", pid: 2 ** 22 + 17, host: hostname(), since: 0 }));
    mkdirSync(stagingDir(out, "dead-1"), { recursive: true });
    writeFileSync(join(stagingDir(out, "dead-1"), "part-00000"), "half a commit\n");
    const r = runCli(["run", FAULTY, "-i", ...files, "-o", out, "--workdir", s.path("wd"), "-q"]);
    expect(r.status, r.stderr).toBe(0);
    expectOracle(out, wordcountOracle(files));
    expect(readdirSync(dirname(out)).filter((n) => n.startsWith(`.${basename(out)}.`))).toEqual([]);
  });

  it("a cluster: a second submit is refused at once, naming the running job; the first's output is whole", async () => {
    const cluster = new Cluster(s.path("cluster-wd"));
    try {
      await cluster.startRedis();
      await cluster.coordinator();
      await cluster.worker(2);
      const out = s.path("out-cluster");
      const args = ["submit", FAULTY, "-i", ...files, "-o", out, "--split-size", "4k"];
      const sub = await cluster.run([...args, ...params({ taskMs: 3_000 })]);
      expect(sub.code, sub.output).toBe(0);
      const id = sub.stdout.trim().split("\n")[0]!;
      await until("its coordinator to take the output", () => existsSync(writerLockPath(out)), 30_000, 20);
      const second = await cluster.run([...args, "--overwrite", "--wait"]);
      expect(second.code).toBe(1);
      expect(second.output).toContain(`sheaf: output ${out} is being written by job ${id} (on the cluster`);
      const waited = await cluster.run(["status", id]);
      expect(waited.code).toBe(0);
      const { waitJob } = await import("./fault-kit.js");
      expect((await waitJob(cluster, id, 60_000)).state).toBe("succeeded");
      expectOracle(out, wordcountOracle(files));
      expect((await cluster.run([...args, "--overwrite", "--wait"])).code).toBe(0);
      expectOracle(out, wordcountOracle(files));

      // Asked to wait, a second job is queued; its coordinator waits for the first, then replaces the output.
      const again = await cluster.run([...args, "--overwrite", ...params({ taskMs: 3_000 })]);
      expect(again.code, again.output).toBe(0);
      const firstId = again.stdout.trim().split("\n")[0]!;
      await until("its coordinator to take the output", () => existsSync(writerLockPath(out)), 30_000, 20);
      const waiting = await cluster.run(["submit", FAULTY, "-i", ...other, "-o", out, "--split-size", "4k", "--overwrite", "--wait-for-output", "--wait", "-q"]);
      expect(waiting.code, waiting.output).toBe(0);
      expect((await waitJob(cluster, firstId, 60_000)).state).toBe("succeeded");
      expectOracle(out, wordcountOracle(other));
      expect(cluster.procs[0]!.output()).toMatch(new RegExp(`waits \\(--wait-for-output\\): output ${out} is being written by job ${firstId}`));
    } finally {
      await cluster.stop();
    }
    cluster.assertNoLeaks();
  }, 120_000);
});


describe("two jobs into one PostgreSQL table", () => {
  const DB = (process.env.DATABASE_URL ??= "postgres://postgres@127.0.0.1:5432/test");
  const schema = `sheaf_it_writer_${process.pid}_${Date.now().toString(36)}`;
  let db: import("pg").Client;
  let job = "";
  let input = "";
  const words = Array.from({ length: 300 }, (_, i) => `w${(i * 11) % 23}`);

  beforeAll(async () => {
    const pg = (await import("pg")).default;
    db = new pg.Client({ connectionString: DB });
    await db.connect();
    await db.query(`CREATE SCHEMA ${schema}`);
    input = s.write("table-in/words.txt", words.join("\n") + "\n");
    // Word count replacing a table; with holdMs, its reduce holds in setup (the job keeps the table meanwhile).
    job = s.write("table-job.ts", `import { defineJob, lines, postgres, sum } from "sheaf";
export default defineJob({ name: "tw", input: lines(), map(w: string, emit) { emit(w, 1); },
  setup(ctx) { const ms = Number(ctx.params.holdMs ?? 0); if (ms && ctx.taskId.startsWith("reduce")) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); },
  reduce: (w: string, n: Iterable<number>) => ({ word: w, n: sum(n) }), partitions: 1,
  output: postgres({ table: ${JSON.stringify(`${schema}.counts`)}, mode: "replace", schema: { word: "string", n: "int32" } }) });
`);
  });
  afterAll(async () => {
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.end();
  });

  const loaded = async () => new Map((await db.query<{ word: string; n: number }>(`SELECT word, n FROM ${schema}.counts`)).rows.map((r) => [r.word, r.n]));
  const oracle = () => {
    const m = new Map<string, number>();
    for (const w of words) m.set(w, (m.get(w) ?? 0) + 1);
    return m;
  };

  it("sheaf run: the second is refused while the first loads, naming it; --wait-for-output waits", async () => {
    const args = ["run", job, "-i", input, "--workdir", s.path("wd-table"), "-q"];
    const first = runAsync([...args, "--param", "holdMs=5000"]);
    await until("the first to hold the table", async () => (await db.query(`SELECT 1 FROM ${schema}.sheaf_writers`).catch(() => ({ rowCount: 0 }))).rowCount === 1, 30_000, 20);
    const second = await runAsync(args).done;
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`sheaf: output table ${schema}\\.counts is being written by job tw-\\S+ \\(sheaf run, pid ${first.pid} on ${hostname()}`));
    const waiting = await runAsync([...args, "--wait-for-output"]).done;
    expect((await first.done).status).toBe(0);
    expect(waiting.status, waiting.stderr).toBe(0);
    expect(await loaded()).toEqual(oracle());
    expect((await db.query(`SELECT 1 FROM ${schema}.sheaf_writers`)).rowCount).toBe(0); // given back
  }, 60_000);

  it("a cluster: a second submit is refused at once, naming the job loading the table", async () => {
    const cluster = new Cluster(s.path("cluster-table-wd"));
    try {
      await cluster.startRedis();
      await cluster.coordinator();
      await cluster.worker(2);
      const sub = await cluster.run(["submit", job, "-i", input, "--param", "holdMs=6000"]);
      expect(sub.code, sub.output).toBe(0);
      const id = sub.stdout.trim().split("\n")[0]!;
      await until("its coordinator to take the table", async () => (await db.query(`SELECT 1 FROM ${schema}.sheaf_writers`).catch(() => ({ rowCount: 0 }))).rowCount === 1, 30_000, 20);
      const second = await cluster.run(["submit", job, "-i", input, "--wait"]);
      expect(second.code).toBe(1);
      expect(second.output).toContain(`sheaf: output table ${schema}.counts is being written by job ${id} (on the cluster`);
      const { waitJob } = await import("./fault-kit.js");
      expect((await waitJob(cluster, id, 60_000)).state).toBe("succeeded");
      expect(await loaded()).toEqual(oracle());
      // Given back right after the job's end is recorded (so just after the state a waiter reads).
      await until("the table's writer row to go", async () => (await db.query(`SELECT 1 FROM ${schema}.sheaf_writers`)).rowCount === 0, 10_000, 20);
    } finally {
      await cluster.stop();
    }
    cluster.assertNoLeaks();
  }, 120_000);
});
