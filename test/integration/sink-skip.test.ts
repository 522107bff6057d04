/**
 * A sink stage is skipped only while what it loaded is really there (issue "Nothing lost on a
 * rerun", finding 2): its fingerprint is recorded by the load's own transaction, in the loads table
 * beside the target (or `loadsTable`), with which table it filled. A rerun skips it; after the
 * table is dropped, or truncated, the rerun loads it again: the rows are back, never doubled (the
 * sink appends). On `sheaf run` and on a cluster. The loads table lives in the target's schema, not
 * in `public` (finding 10).
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "./cluster-harness.js";
import { Scratch, runCli } from "./helpers.js";

const DB = (process.env.DATABASE_URL ??= "postgres://postgres@127.0.0.1:5432/test");
const s = new Scratch("sink-skip");
const db = new pg.Client({ connectionString: DB });
const suffix = `${process.pid}_${Date.now().toString(36)}`;
const schema = `sheaf_it_skip_${suffix}`;
const words = Array.from({ length: 120 }, (_, i) => `w${i % 17}`);
const oracle = new Map<string, number>();
for (const w of words) oracle.set(w, (oracle.get(w) ?? 0) + 1);
let input = "";

beforeAll(async () => {
  await db.connect();
  await db.query(`CREATE SCHEMA ${schema}`);
  input = s.write("in/words.txt", words.join("\n") + "\n");
});
afterAll(async () => {
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.end();
  s.cleanup();
});

/** count → load (append) into `table`: a pipeline whose second stage is a sink. */
function pipeline(table: string, extra = ""): string {
  return s.write(
    `p-${table}.ts`,
    `import { defineJob, definePipeline, lines, postgres, sum, tsv } from "sheaf";
const count = defineJob({ name: "count", input: lines(), map(w: string, emit) { emit(w, 1); }, reduce: (_w, n: Iterable<number>) => sum(n), output: tsv(), partitions: 2 });
const load = defineJob({ name: "load", input: lines(), map(line: string, emit) { const [word, n] = line.split("\\t"); emit(word!, { word, n: Number(n) }); },
  output: postgres({ table: ${JSON.stringify(`${schema}.${table}`)}, mode: "append", schema: { word: "string", n: "int32" }${extra} }) });
export default definePipeline({ name: "skip-${table}", stages: { count: { job: count, input: [${JSON.stringify(input)}], output: ${JSON.stringify(s.path(`wh-${table}`, "count"))} }, load: { job: load, input: "count" } } });
`,
  );
}

async function rows(table: string): Promise<Map<string, number> | string> {
  try {
    const r = await db.query<{ word: string; n: number }>(`SELECT word, n FROM ${schema}.${table} ORDER BY word`);
    const m = new Map<string, number>();
    for (const { word, n } of r.rows) {
      if (m.has(word)) return `${word} loaded twice`;
      m.set(word, n);
    }
    return m;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Runs the pipeline (by `go`) and returns what the load stage did: "succeeded" or "skipped". */
async function loadStage(go: () => Promise<{ code: number | string | null; output: string }>): Promise<string> {
  const r = await go();
  expect(r.code, r.output).toBe(0);
  return /stage load: (succeeded|skipped)/.exec(r.output)?.[1] ?? `no load line in: ${r.output}`;
}

async function scenario(table: string, go: (file: string) => Promise<{ code: number | string | null; output: string }>): Promise<void> {
  const file = pipeline(table);
  expect(await loadStage(() => go(file))).toBe("succeeded");
  expect(await rows(table)).toEqual(oracle);
  expect(await loadStage(() => go(file))).toBe("skipped");
  expect(await rows(table)).toEqual(oracle); // appended once only
  await db.query(`DROP TABLE ${schema}.${table}`);
  expect(await loadStage(() => go(file))).toBe("succeeded");
  expect(await rows(table)).toEqual(oracle);
  await db.query(`TRUNCATE ${schema}.${table}`);
  expect(await loadStage(() => go(file))).toBe("succeeded");
  expect(await rows(table)).toEqual(oracle);
  expect(await loadStage(() => go(file))).toBe("skipped");
}

describe("a sink stage's skip", () => {
  it("sheaf run: skipped while the load is there; a dropped or truncated table is loaded again", async () => {
    const wd = s.path("run-wd");
    await scenario("t_run", async (file) => {
      const r = runCli(["run", file, "--workdir", wd, "--threads", "2"]);
      return { code: r.status, output: r.stderr + r.stdout };
    });
    // The loads table is the target's schema's, not public's.
    const where = await db.query(`SELECT table_schema FROM information_schema.tables WHERE table_name = 'sheaf_loads' AND table_schema = $1`, [schema]);
    expect(where.rowCount).toBe(1);
  }, 120_000);

  it("a cluster: the same", async () => {
    const cluster = new Cluster(s.path("cluster-wd"));
    try {
      await cluster.startRedis();
      await cluster.coordinator();
      await cluster.worker(2);
      await scenario("t_cluster", (file) => cluster.run(["submit", file, "--wait"]));
    } finally {
      await cluster.stop();
    }
    cluster.assertNoLeaks();
  }, 180_000);

  it("records loads in the loadsTable it is given", async () => {
    const file = pipeline("t_named", `, loadsTable: ${JSON.stringify(`${schema}.my_loads`)}`);
    const r = runCli(["run", file, "--workdir", s.path("named-wd")]);
    expect(r.status, r.stderr).toBe(0);
    const loads = await db.query(`SELECT target, rows, fingerprint FROM ${schema}.my_loads`);
    expect(loads.rows).toHaveLength(1);
    expect(loads.rows[0]).toMatchObject({ target: `${schema}.t_named`, rows: String(oracle.size) });
    expect(loads.rows[0].fingerprint).toMatch(/^[0-9a-f]{64}$/);
  }, 60_000);
});
