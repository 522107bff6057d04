/**
 * PostgreSQL jobs end to end, with a real server (DATABASE_URL, default the local `test` database):
 * a table read in parallel key ranges, and loads that are all or nothing — checked while the job
 * runs, when it fails in its last reduce, when a worker is killed mid-load and when the coordinator
 * is killed between staging and commit. Every test uses tables of its own and drops them.
 */
import { mkdirSync, readdirSync } from "node:fs";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Cluster } from "./cluster-harness.js";
import { delay, jobRecord, params, startCluster, stopClustersAfterEach, submitJob, until, waitJob } from "./fault-kit.js";
import { Scratch, makeRng, outputText, parseTsv, runCli } from "./helpers.js";

const DB = (process.env.DATABASE_URL ??= "postgres://postgres@127.0.0.1:5432/test"); // the CLI processes connect through it
const s = new Scratch("pg-jobs");
const clusters: Cluster[] = [];
stopClustersAfterEach(clusters, s);

const db = new pg.Client({ connectionString: DB });
const tables: string[] = [];
const suffix = `${process.pid}_${Date.now().toString(36)}`;
let n = 0;
const table = (what: string) => {
  const t = `sheaf_it_${what}_${suffix}_${++n}`;
  tables.push(t);
  return t;
};

beforeAll(async () => {
  await db.connect();
});
afterEach(async () => {
  for (const t of tables.splice(0)) await db.query(`DROP TABLE IF EXISTS ${t}`);
});
afterAll(async () => {
  await db.end();
});

const stagingTables = async () => (await db.query(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE 'sheaf\\_stage\\_%'`)).rows[0].n as number;

/** A load job: CSV rows (id, grp, amount) → one row per id, tagged with `--param tag`; `failKey` throws in reduce, `slowMs` pauses partition 1 mid-load. */
function loadJob(target: string, mode = "replace"): string {
  return s.write(
    `jobs/load-${target}.ts`,
    `import { writeFileSync } from "node:fs";
import { defineJob, csv, postgres } from "sheaf";
let keys = 0;
export default defineJob({
  name: "load-${n}",
  input: csv({ columns: { id: "int64", amount: "float64" } }),
  setup() { keys = 0; },
  map: (r: { id: bigint; grp: string; amount: number }, emit) => emit(r.id, r),
  reduce(id: bigint, rows: Iterable<{ grp: string; amount: number }>, ctx) {
    if (String(id) === ctx.params.failKey) throw new Error("refusing key " + id);
    const slow = Number(ctx.params.slowMs ?? 0);
    // Mid-COPY: after 100 rows are staged, once per attempt (a thread runs one attempt at a time).
    if (slow && ctx.taskId === "reduce-00001" && ++keys === 100) {
      if (ctx.params.markDir) writeFileSync(ctx.params.markDir + "/slow-" + process.pid, "");
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, slow);
    }
    let total = 0, grp = "";
    for (const r of rows) { total += r.amount; grp = r.grp; }
    return { id, grp, total, tag: ctx.params.tag ?? "" };
  },
  output: postgres({ table: "${target}", mode: "${mode}", key: "id", schema: { id: "int64", grp: "string", total: "float64", tag: "string" } }),
  partitions: 3,
});
`,
  );
}

/** Rows (id, grp, amount) as CSV, and what a load of them must leave in the table. */
function orders(count: number, seed: number): { file: string; want: string[] } {
  const rng = makeRng(seed);
  const sums = new Map<bigint, { grp: string; total: number }>();
  const lines = ["id,grp,amount"];
  for (let i = 0; i < count; i++) {
    const id = 9007199254740993n + BigInt(Math.floor(rng() * count * 0.7));
    const grp = ["north", "south, east", 'quo"te', "tab\tbed"][i % 4]!;
    const amount = Math.floor(rng() * 1000) / 4;
    lines.push(`${id},"${grp.replace(/"/g, '""')}",${amount}`);
    const cur = sums.get(id) ?? { grp, total: 0 };
    cur.total += amount;
    cur.grp = grp;
    sums.set(id, cur);
  }
  const file = s.write(`data/orders-${seed}.csv`, lines.join("\n") + "\n");
  return { file, want: [...sums].map(([id, v]) => `${id}|${v.grp}|${v.total}`).sort() };
}

async function contents(t: string, tag?: string): Promise<string[]> {
  const r = await db.query({ text: `SELECT id::text AS id, grp, total, tag FROM ${t}${tag === undefined ? "" : " WHERE tag = $1"}`, values: tag === undefined ? [] : [tag] });
  return r.rows.map((x) => `${x.id}|${x.grp}|${x.total}`).sort();
}

describe("postgres() source", () => {
  it("reads a table in parallel key ranges (every row once, nulls included) and aggregates it like SQL", async () => {
    const src = table("src");
    await db.query(`CREATE TABLE ${src} (id int8, region text, amount float8, price numeric(10,2), at timestamp)`);
    await db.query(`INSERT INTO ${src} SELECT CASE WHEN g % 97 = 0 THEN NULL ELSE 9007199254740000 + g * 3 END, 'r' || (g % 7), g * 0.5, g / 100.0, TIMESTAMP '2024-01-01' + g * INTERVAL '1 minute' FROM generate_series(1, 20000) g`);
    const job = s.write(
      "jobs/by-region.ts",
      `import { defineJob, postgres } from "sheaf";
export default defineJob({
  name: "by-region",
  input: postgres({ table: "${src}", splitBy: "id", splits: 5 }),
  map(r: { id: bigint | null; region: string; amount: number; price: string; at: Date }, emit) {
    if (r.id !== null && typeof r.id !== "bigint") throw new Error("int8 must be a bigint");
    if (!(r.at instanceof Date) || typeof r.price !== "string") throw new Error("timestamp must be a Date, numeric a string");
    emit(r.region, [1, r.amount, r.id === null ? 1 : 0]);
  },
  combine: (_k, vs: Iterable<number[]>) => add(vs),
  reduce: (_k, vs: Iterable<number[]>) => add(vs),
  partitions: 2,
});
function add(vs: Iterable<number[]>) { const t = [0, 0, 0]; for (const v of vs) for (let i = 0; i < 3; i++) t[i]! += v[i]!; return t; }
`,
    );
    const out = s.fresh();
    const r = runCli(["run", job, "--output", out, "--workdir", s.path("wd"), "-q", "--threads", "2"]);
    expect(r.status, r.stderr).toBe(0);
    const want = (await db.query(`SELECT region, count(*)::int AS n, sum(amount) AS total, count(*) FILTER (WHERE id IS NULL)::int AS nulls FROM ${src} GROUP BY region ORDER BY region`)).rows;
    const got = parseTsv(outputText(out)).map(([k, v]) => [k, JSON.parse(v!)]).sort((x, y) => (x[0] < y[0] ? -1 : 1));
    expect(got).toEqual(want.map((w) => [w.region, [w.n, w.total, w.nulls]]));
  });

  it("fails with one line naming the database when it cannot connect", () => {
    const job = s.write("jobs/unreachable.ts", `import { defineJob, postgres } from "sheaf";
export default defineJob({ name: "unreachable", input: postgres({ table: "t", url: "postgres://postgres@127.0.0.1:1/test" }), map: (r, emit) => emit("x", 1) });`);
    const r = runCli(["run", job, "--output", s.fresh(), "--workdir", s.path("wd"), "-q"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/127\.0\.0\.1:1/);
  });
});

describe("postgres() sink", () => {
  it("replaces, appends and upserts, exactly once, all or nothing; a failure in the last reduce leaves the table as it was", async () => {
    const t = table("load");
    const a = orders(3000, 1), b = orders(2000, 2);
    const wd = s.path("wd");
    const stagedBefore = await stagingTables();
    const ok = (job: string, file: string, extra: string[] = []) => {
      const r = runCli(["run", job, "--input", file, "--workdir", wd, "-q", "--threads", "2", ...extra]);
      expect(r.status, r.stderr).toBe(0);
    };
    ok(loadJob(t), a.file, params({ tag: "a" }));
    expect(await contents(t)).toEqual(a.want);
    ok(loadJob(t), b.file, params({ tag: "b" }));
    expect(await contents(t)).toEqual(b.want); // replaced, not mixed

    const failed = runCli(["run", loadJob(t), "--input", a.file, "--workdir", wd, "-q", "--max-attempts", "2", ...params({ tag: "c", failKey: a.want.at(-1)!.split("|")[0]! })]);
    expect(failed.status).not.toBe(0);
    expect(failed.stderr).toMatch(/reduce threw on key .*refusing key/);
    expect(await contents(t)).toEqual(b.want);
    expect(await contents(t, "c")).toEqual([]);
    expect(await stagingTables()).toBe(stagedBefore);

    const appended = table("append");
    ok(loadJob(appended, "append"), a.file, params({ tag: "a" }));
    ok(loadJob(appended, "append"), a.file, params({ tag: "a2" }));
    expect(await contents(appended)).toEqual([...a.want, ...a.want].sort());

    const upserted = table("upsert");
    ok(loadJob(upserted, "upsert"), a.file, params({ tag: "a" }));
    ok(loadJob(upserted, "upsert"), b.file, params({ tag: "b" }));
    const merged = new Map(a.want.map((r) => [r.split("|")[0], r]));
    for (const r of b.want) merged.set(r.split("|")[0], r);
    expect(await contents(upserted)).toEqual([...merged.values()].sort());
  });

  it("on a cluster: a worker killed mid-load and a coordinator killed between staging and commit leave old or new, never a mix", async () => {
    const t = table("cluster");
    const a = orders(3000, 3), b = orders(2500, 4);
    const stagedBefore = await stagingTables();
    const { cluster, coordinator, workers } = await startCluster(s.path("cluster"), { workers: 2, threads: 1 });
    clusters.push(cluster);
    const job = loadJob(t);
    let id = await submitJob(cluster, [job, "--input", a.file, ...params({ tag: "a" })]);
    expect((await waitJob(cluster, id)).state).toBe("succeeded");
    expect(await contents(t)).toEqual(a.want);

    // Watch the table through the whole second load: every snapshot is exactly a or exactly b.
    const seen = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const rows = await contents(t);
        seen.add(rows.join() === a.want.join() ? "a" : rows.join() === b.want.join() ? "b" : `mix of ${rows.length}`);
        await delay(20);
      }
    })();
    const markDir = s.path("marks");
    mkdirSync(markDir, { recursive: true });
    id = await submitJob(cluster, [job, "--input", b.file, ...params({ tag: "b", slowMs: 1500, markDir })]);
    // reduce-00001 is slow: kill the worker running it, then the coordinator once the others have staged.
    await until("two reduces committed", async () => ((await jobRecord(cluster, id)).progress?.reducesDone ?? 0) >= 2, 60_000);
    await until("the slow reduce to start", () => readdirSync(markDir).length > 0);
    const pid = Number(readdirSync(markDir)[0]!.slice("slow-".length));
    const runningIt = workers.find((w) => w.child.pid === pid);
    expect(runningIt, "the worker running reduce-00001").toBeDefined();
    runningIt!.child.kill("SIGKILL");
    coordinator.child.kill("SIGKILL");
    await delay(500);
    expect(await contents(t)).toEqual(a.want); // nothing of b before the commit
    await cluster.coordinator();
    await cluster.worker(1);
    const done = await waitJob(cluster, id, 120_000);
    watching = false;
    await watcher;
    expect(done.state, done.error).toBe("succeeded");
    expect(await contents(t)).toEqual(b.want);
    expect([...seen].filter((x) => x !== "a" && x !== "b")).toEqual([]);
    expect(await stagingTables()).toBe(stagedBefore);
    const loads = await db.query(`SELECT count(*)::int AS n FROM sheaf_loads WHERE job_id = $1`, [id]);
    expect(loads.rows[0].n).toBe(1);
  });
});
