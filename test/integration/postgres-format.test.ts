/**
 * The PostgreSQL source and sink against a real server (DATABASE_URL, default the local `test`
 * database). Every table lives in a schema of its own, dropped at the end; tables are dropped after
 * each test.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { postgres, type PostgresOptions } from "../../core/api/formats.js";
import type { Key } from "../../core/api/types.js";
import type { ReadBatch } from "../../core/formats/format.js";
import { createPostgresWriter, postgresSink, stagePrefix } from "../../core/formats/postgres-sink.js";
import { postgresReader } from "../../core/formats/postgres-source.js";
import type { Split } from "../../core/splits.js";
import type { JobConfig, PartFile } from "../../core/tasks.js";

const URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA = `sheaf_test_${randomBytes(4).toString("hex")}`;
let db: pg.Client;
let made: string[] = [];

beforeAll(async () => {
  db = new pg.Client({ connectionString: URL });
  await db.connect();
  await db.query(`CREATE SCHEMA ${SCHEMA}`);
});
afterEach(async () => {
  for (const t of made) await db.query(`DROP TABLE IF EXISTS ${t}`);
  made = [];
});
afterAll(async () => {
  await db.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await db.end();
});

/** A fresh table name in the test schema, dropped after the test. */
function table(base: string): string {
  const t = `${SCHEMA}.${base}_${randomBytes(3).toString("hex")}`;
  made.push(t);
  return t;
}

const pgf = (options: PostgresOptions) => postgres({ url: URL, ...options });
const opts = { cwd: process.cwd(), onBadRecord: () => {} };

async function readAll(format: ReturnType<typeof pgf>, split: Split): Promise<{ rows: Record<string, unknown>[]; batches: ReadBatch[] }> {
  const rows: Record<string, unknown>[] = [];
  const batches: ReadBatch[] = [];
  await postgresReader(format).read(split, (b) => {
    rows.push(...(b.records as Record<string, unknown>[]));
    batches.push({ ...b, records: [...b.records], location: b.location });
  }, opts);
  return { rows, batches };
}

describe("postgres source", () => {
  const TWO53 = 2n ** 53n;

  async function sourceTable(): Promise<string> {
    const t = table("src");
    await db.query(`CREATE TABLE ${t} (seq int4 PRIMARY KEY, id int8, amount numeric(14,2), note text, small int2, ratio float8, flag bool,
                    at timestamp, atz timestamptz, day date)`);
    const values: string[] = [];
    for (let i = 0; i < 300; i++) {
      // ids beyond 2^53, some shared (ties), some NULL
      const id = i % 23 === 0 ? "NULL" : String(TWO53 + 1000n * BigInt(i % 250) + 1n);
      values.push(`(${i}, ${id}, ${i}.25, E'row ${i}\\twith tab\\nand newline \\\\ "q"', ${i % 7}, ${i / 8}, ${i % 2 === 0},
                    '2024-03-05 06:07:08.123', '2024-03-05 06:07:08.123+02', '2024-03-05')`);
    }
    await db.query(`INSERT INTO ${t} VALUES ${values.join(", ")}`);
    return t;
  }

  it("cuts the table into ranges plus a NULL split, and reads every row once, typed", async () => {
    const t = await sourceTable();
    const format = pgf({ table: t, splitBy: "id", splits: 4 });
    const splits = await postgresReader(format).plan([], 0, process.cwd());
    expect(splits).toHaveLength(5);
    expect(splits.every((s) => s.unit === "range" && s.file === `postgres:${t}`)).toBe(true);
    expect(splits.at(-1)!.range).toEqual({ lo: null, hi: null, nulls: true });
    const seen: Record<string, unknown>[] = [];
    for (const s of splits) seen.push(...(await readAll(format, s)).rows);
    const { rows: expected } = await db.query<{ seq: number; id: string | null }>(`SELECT seq, id::text AS id FROM ${t}`);
    const key = (r: Record<string, unknown>) => `${r.seq}:${r.id === null ? "null" : String(r.id)}`;
    expect(seen.map(key).sort()).toEqual(expected.map(key).sort());

    const row = seen.find((r) => r.seq === 1)!;
    expect(row.id).toBe(TWO53 + 1001n);
    expect(row.amount).toBe("1.25");
    expect(row.note).toBe('row 1\twith tab\nand newline \\ "q"');
    expect(row.small).toBe(1);
    expect(row.ratio).toBe(0.125);
    expect(row.flag).toBe(false);
    expect(row.at).toEqual(new Date(Date.UTC(2024, 2, 5, 6, 7, 8, 123)));
    expect(row.atz).toEqual(new Date(Date.UTC(2024, 2, 5, 4, 7, 8, 123)));
    expect(row.day).toEqual(new Date(Date.UTC(2024, 2, 5)));
    expect(seen.find((r) => r.seq === 0)!.id).toBeNull();
  });

  it("resumes a split past the records already done, in the same order", async () => {
    const t = await sourceTable();
    const format = pgf({ table: t, splitBy: "id", splits: 2 });
    const [first] = await postgresReader(format).plan([], 0, process.cwd());
    const full = await readAll(format, first!);
    const resumed = await readAll(format, { ...first!, skip: 17 });
    expect(resumed.rows.map((r) => r.seq)).toEqual(full.rows.slice(17).map((r) => r.seq));
    const last = resumed.batches.at(-1)!;
    expect(last.resume).toEqual({ skip: full.rows.length });
    expect(resumed.batches[0]!.location(0)).toEqual({ file: `postgres:${t}`, offset: 0, row: 17 });
    // the whole table without splitBy: one split, resumable too
    const whole = pgf({ table: t });
    const [only] = await postgresReader(whole).plan([], 0, process.cwd());
    const all = await readAll(whole, only!);
    expect(all.rows).toHaveLength(300);
    expect((await readAll(whole, { ...only!, skip: 290 })).rows.map((r) => r.seq)).toEqual(all.rows.slice(290).map((r) => r.seq));
  });

  it("reads a query, fewer splits for a small range, and an empty table", async () => {
    const t = await sourceTable();
    const q = pgf({ query: `SELECT seq, id, note FROM ${t} WHERE flag`, splitBy: "seq", splits: 3 });
    const splits = await postgresReader(q).plan([], 0, process.cwd());
    expect(splits).toHaveLength(3);
    const rows = (await Promise.all(splits.map((s) => readAll(q, s)))).flatMap((r) => r.rows);
    expect(rows.map((r) => r.seq).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 150 }, (_, i) => i * 2));
    expect(Object.keys(rows[0]!)).toEqual(["seq", "id", "note"]);

    const small = table("small");
    await db.query(`CREATE TABLE ${small} (k int4); INSERT INTO ${small} VALUES (5), (6)`);
    const few = await postgresReader(pgf({ table: small, splitBy: "k", splits: 4 })).plan([], 0, process.cwd());
    expect(few.map((s) => s.range)).toEqual([{ lo: "5", hi: "6" }, { lo: "6", hi: null }]);

    const empty = table("empty");
    await db.query(`CREATE TABLE ${empty} (k int8)`);
    const e = pgf({ table: empty, splitBy: "k" });
    const none = await postgresReader(e).plan([], 0, process.cwd());
    expect(none).toHaveLength(1);
    expect((await readAll(e, none[0]!)).rows).toEqual([]);
  });

  it("passes an error of the batch callback through unchanged", async () => {
    const t = await sourceTable();
    const format = pgf({ table: t });
    const [split] = await postgresReader(format).plan([], 0, process.cwd());
    const boom = new Error("from map");
    await expect(postgresReader(format).read(split!, () => { throw boom; }, opts)).rejects.toBe(boom);
  });

  it("reports an unreachable database in one line naming it and the table", async () => {
    const format = postgres({ url: "postgres://postgres@127.0.0.1:1/test", table: "public.nowhere" });
    const err = await postgresReader(format).plan([], 0, process.cwd()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "DATABASE_UNREACHABLE" });
    const message = (err as Error).message;
    expect(message).toContain("127.0.0.1:1/test");
    expect(message).toContain("public.nowhere");
    expect(message).not.toContain("\n");
    await expect(postgresReader(pgf({ table: `${SCHEMA}.missing` })).plan([], 0, process.cwd())).rejects.toThrow(/missing does not exist/);
  });
});

describe("postgres sink", () => {
  function job(jobId: string): JobConfig {
    return {
      jobId, name: "pg-test", artifact: "/dev/null", params: {}, cwd: process.cwd(), partitions: 2, output: "/tmp/sheaf-pg-test",
      formats: { input: { format: "jsonl" }, output: pgf({ table: "x" }) }, scratch: "/tmp/sheaf-pg-test", sortBufferBytes: 1 << 20,
      taskTimeoutMs: 60_000, skipBadRecords: 0, speculative: false, checkpointBytes: 1 << 20, checkpointMs: 10_000,
    } as unknown as JobConfig;
  }

  /** One task attempt writing rows into its staging table; the PartFile it would report. */
  async function stage(format: ReturnType<typeof pgf>, jobId: string, taskId: string, rows: [Key, unknown][], attempt = "attempt-1-0a0b0c0d"): Promise<PartFile> {
    const w = createPostgresWriter(format, { path: "/unused", job: job(jobId), taskId, attempt });
    for (const [k, v] of rows) await w.write(k, v);
    const done = await w.close();
    return { path: w.staged, name: taskId, ...done };
  }

  const newJob = () => `job-${randomBytes(4).toString("hex")}`;
  const stagingLeft = async (jobId: string) =>
    (await db.query(`SELECT tablename FROM pg_tables WHERE tablename LIKE $1`, [`${stagePrefix(jobId).replace(/_/g, "\\_")}%`])).rowCount;
  const contents = async (t: string) => (await db.query(`SELECT * FROM ${t} ORDER BY 1`)).rows;

  async function target(): Promise<string> {
    const t = table("dst");
    await db.query(`CREATE TABLE ${t} (id int8 PRIMARY KEY, name text, score float8, at timestamptz)`);
    await db.query(`INSERT INTO ${t} VALUES (1, 'old one', 1, NULL), (2, 'old two', 2, NULL)`);
    return t;
  }

  it("replace: the target holds exactly the staged rows, escapes intact, staging dropped, once per job", async () => {
    const t = await target();
    const format = pgf({ table: t });
    const jobId = newJob();
    const nasty = 'tab\there, newline\nthere, back\\slash, "quotes", \\N, \r';
    const a = await stage(format, jobId, "reduce-00000", [[2n, { id: 2n ** 60n, name: nasty, score: 0.5, at: new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 6)) }]]);
    const b = await stage(format, jobId, "reduce-00001", [[3, { id: 3, name: null }], [4, { id: 4n, name: "four", score: Infinity }]]);
    expect(a.path.startsWith(`${SCHEMA}.${stagePrefix(jobId)}`)).toBe(true);
    expect(a.records).toBe(1);
    const sink = postgresSink(format);
    await sink.check();
    await sink.commit(jobId, [a, b]);
    const rows = await contents(t);
    expect(rows).toEqual([
      { id: "3", name: null, score: null, at: null },
      { id: "4", name: "four", score: Infinity, at: null },
      { id: String(2n ** 60n), name: nasty, score: 0.5, at: new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 6)) },
    ]);
    expect(await stagingLeft(jobId)).toBe(0);
    const marker = await db.query(`SELECT target, rows FROM ${SCHEMA}.sheaf_loads WHERE job_id = $1`, [jobId]);
    expect(marker.rows).toEqual([{ target: t, rows: "3" }]);
    await sink.commit(jobId, [a, b]); // a resumed coordinator repeating the commit
    expect(await contents(t)).toEqual(rows);
  });

  it("append: a repeated commit does not double the rows; a zero-row part is fine", async () => {
    const t = await target();
    const format = pgf({ table: t, mode: "append" });
    const jobId = newJob();
    const a = await stage(format, jobId, "map-00000", [[10, { id: 10n, name: "ten" }]]);
    const empty = await stage(format, jobId, "map-00001", []);
    expect(empty.records).toBe(0);
    const sink = postgresSink(format);
    await Promise.all([sink.commit(jobId, [a, empty]), sink.commit(jobId, [a, empty])]); // a stale coordinator racing
    await sink.commit(jobId, [a, empty]);
    expect((await contents(t)).map((r) => r.id)).toEqual(["1", "2", "10"]);
  });

  it("upsert: conflicting keys update; among staged rows the last by part order wins", async () => {
    const t = await target();
    const format = pgf({ table: t, mode: "upsert", key: "id" });
    const jobId = newJob();
    const a = await stage(format, jobId, "reduce-00000", [[2, { id: 2n, name: "new two", score: 22 }], [5, { id: 5n, name: "a" }], [6, { id: 6n, name: "x" }], [6, { id: 6n, name: "y" }]]);
    const b = await stage(format, jobId, "reduce-00001", [[5, { id: 5n, name: "b" }], [7, { id: 7n, name: "seven" }]]);
    const sink = postgresSink(format);
    await sink.check();
    await sink.commit(jobId, [a, b]);
    expect((await contents(t)).map((r) => [r.id, r.name, r.score])).toEqual([
      ["1", "old one", 1], ["2", "new two", 22], ["5", "b", null], ["6", "y", null], ["7", "seven", null],
    ]);
  });

  it("check: refuses an unreachable server, and an upsert key without a unique index", async () => {
    const t = table("nokey");
    await db.query(`CREATE TABLE ${t} (id int8, name text)`);
    await expect(postgresSink(pgf({ table: t, mode: "upsert", key: "id" })).check()).rejects.toMatchObject({ code: "BAD_OUTPUT", message: expect.stringContaining("unique index") });
    await expect(postgresSink(pgf({ table: t, mode: "upsert", key: "nope" })).check()).rejects.toMatchObject({ code: "BAD_OUTPUT", message: expect.stringContaining("nope") });
    const down = postgres({ url: "postgres://postgres@127.0.0.1:1/test", table: t });
    await expect(postgresSink(down).check()).rejects.toMatchObject({ code: "DATABASE_UNREACHABLE", message: expect.stringContaining(t) });
  });

  it("discard and abandon leave nothing; abort leaves the target as it was", async () => {
    const t = await target();
    const format = pgf({ table: t, mode: "append" });
    const jobId = newJob();
    const winner = await stage(format, jobId, "reduce-00000", [[20, { id: 20n, name: "winner" }]], "attempt-1-11111111");
    const loser = await stage(format, jobId, "reduce-00000", [[21, { id: 21n, name: "loser" }]], "attempt-2-22222222");
    const sink = postgresSink(format);
    await sink.discard(loser);
    expect(await stagingLeft(jobId)).toBe(1);
    // an attempt that fails mid-COPY: closing its connection rolls its staging table back
    const w = createPostgresWriter(format, { path: "/unused", job: job(jobId), taskId: "reduce-00001", attempt: "attempt-1-33333333" });
    for (let i = 0; i < 20_000; i++) await w.write(i, { id: BigInt(1000 + i), name: "x".repeat(20) });
    await w.abandon();
    expect(await stagingLeft(jobId)).toBe(1);
    await sink.commit(jobId, [winner]);
    expect((await contents(t)).map((r) => r.name)).toEqual(["old one", "old two", "winner"]);

    const other = newJob();
    await stage(format, other, "reduce-00000", [[30, { id: 30n, name: "aborted" }]]);
    await stage(format, other, "reduce-00001", [[31, { id: 31n, name: "aborted" }]]);
    const before = await contents(t);
    await sink.abort(other);
    expect(await contents(t)).toEqual(before);
    expect(await stagingLeft(other)).toBe(0);
  });

  it("a commit that fails half-way changes nothing and can be repeated", async () => {
    const t = await target();
    const format = pgf({ table: t });
    const jobId = newJob();
    const a = await stage(format, jobId, "reduce-00000", [[40, { id: 40n, name: "a" }]]);
    const b = await stage(format, jobId, "reduce-00001", [[41, { id: 41n, name: "b" }], [42, { id: 42n, name: "c" }]]);
    const before = await contents(t);
    // what a server crash does to an unlogged staging table: the load must fail, not shrink
    await db.query(`TRUNCATE ${b.path}`);
    await expect(postgresSink(format).commit(jobId, [a, b])).rejects.toMatchObject({ code: "STAGING_LOST" });
    expect(await contents(t)).toEqual(before);
    expect((await db.query(`SELECT 1 FROM ${SCHEMA}.sheaf_loads WHERE job_id = $1`, [jobId])).rowCount).toBe(0);
    const b2 = await stage(format, jobId, "reduce-00001", [[41, { id: 41n, name: "b" }]], "attempt-2-bbbbbbbb");
    await postgresSink(format).commit(jobId, [a, b2]);
    expect((await contents(t)).map((r) => r.name)).toEqual(["a", "b"]);
    await expect(postgresSink(format).commit(newJob(), [{ ...a, path: t }])).rejects.toMatchObject({ code: "BAD_PART" });
  });

  it("streams a large part with backpressure", async () => {
    const t = await target();
    const format = pgf({ table: t, mode: "append" });
    const jobId = newJob();
    const w = createPostgresWriter(format, { path: "/unused", job: job(jobId), taskId: "reduce-00000", attempt: "attempt-1-cccccccc" });
    let waits = 0;
    for (let i = 0; i < 200_000; i++) {
      const p = w.write(i, { id: BigInt(100 + i), name: `name ${i}\t${"y".repeat(i % 50)}`, score: i / 3 });
      if (p) { waits++; await p; }
    }
    const done = await w.close();
    expect(done.records).toBe(200_000);
    expect(waits).toBeGreaterThan(0);
    await postgresSink(format).commit(jobId, [{ path: w.staged, name: "part-0", ...done }]);
    expect((await db.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n).toBe(200_002);
  });

  it("a row that does not fit the declared schema fails naming the field", async () => {
    const format = pgf({ table: table("typed"), schema: { id: "int64", name: "string" } });
    const w = createPostgresWriter(format, { path: "/unused", job: job(newJob()), taskId: "map-00000", attempt: "attempt-1-aaaaaaaa" });
    await w.write(1, { id: 1n, name: "ok" });
    expect(() => w.write(2, { id: 2n, name: 5 })).toThrow(/field name of the record with key 2/);
    expect(() => w.write(3, { id: 3n, extra: true })).toThrow(/field extra/);
    expect(() => w.write(4, "not a row")).toThrow(/plain object/);
    await w.abandon();
  });

  it("creates an absent target from the schema, from the staged rows, and empties it with no parts", async () => {
    // a bare table name resolves through the search_path, staging and marker alike
    const bare = `created_${randomBytes(3).toString("hex")}`;
    made.push(`${SCHEMA}.${bare}`);
    const url = `${URL}${URL.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${SCHEMA}`)}`;
    const typed = postgres({ url, table: bare, mode: "upsert", key: "k", schema: { k: "int32", v: "float64", d: "date", ts: "timestamp", ok: "bool" } });
    const jobId = newJob();
    const part = await stage(typed, jobId, "reduce-00000", [[1, { k: 1, v: 1.5, d: new Date(Date.UTC(2021, 5, 7)), ts: new Date(0), ok: true }]]);
    await postgresSink(typed).commit(jobId, [part]);
    const cols = await db.query(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, [SCHEMA, bare]);
    expect(cols.rows.map((r) => `${r.column_name} ${r.data_type}`)).toEqual(["k integer", "v double precision", "d date", "ts timestamp with time zone", "ok boolean"]);
    const pk = await db.query(`SELECT 1 FROM pg_index WHERE indrelid = to_regclass($1) AND indisprimary`, [`${SCHEMA}.${bare}`]);
    expect(pk.rowCount).toBe(1);
    const back = await readAll(postgres({ url, table: bare }), { file: "x", start: 0, end: 1, unit: "range" });
    expect(back.rows).toEqual([{ k: 1, v: 1.5, d: new Date(Date.UTC(2021, 5, 7)), ts: new Date(0), ok: true }]);

    const inferred = pgf({ table: table("inferred") });
    const job2 = newJob();
    const p2 = await stage(inferred, job2, "map-00000", [["a", { word: "a", n: 2n ** 62n, at: new Date(5) }]]);
    await postgresSink(inferred).commit(job2, [p2]);
    expect(await contents(inferred.table!)).toEqual([{ word: "a", n: String(2n ** 62n), at: new Date(5) }]);
    await postgresSink(inferred).commit(newJob(), []); // replace with nothing: empty
    expect(await contents(inferred.table!)).toEqual([]);
  });
});
