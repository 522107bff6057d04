/**
 * The ETL example pipeline (jobs/orders-nightly.ts: raw CSV orders → clean Parquet → revenue per day
 * and country as Parquet → the PostgreSQL table daily_revenue) on three hosts that share nothing but
 * Redis, the object store and the database (test/integration/hosts.ts): a coordinator on host0, a
 * worker on host1 and one on host2, each keeping its map outputs on its own tmpfs. The raw orders
 * and both Parquet stages live in the store. PostgreSQL listens on the root namespace's loopback
 * only, so the hosts reach it through the harness's relay on the bridge.
 *
 * The oracle is `sheaf run` of the same pipeline over local folders: the table's rows must be equal,
 * and the Parquet parts in the store (as their manifests list them) equal its files byte for byte.
 * Each run loads into a schema of its own (search_path in DATABASE_URL), so the example's fixed
 * table name never meets another test's table, and dropping the schema removes everything the
 * loads made (the table, sheaf_loads, any staging table).
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { params, until } from "./fault-kit.js";
import { CLI, EXAMPLE_JOBS, partFiles, REPO, Scratch } from "./helpers.js";
import { Hosts, hostsUnavailable, type Host } from "./hosts.js";
import { readOutput } from "./object-store.js";

const skip = hostsUnavailable();
const DB = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const PIPELINE = join(EXAMPLE_JOBS, "orders-nightly.ts");
const DAY = "2026-11-28";
const SECRET = "hosts-etl-secret-0123456789abcdef";
/** Small splits, so that both workers take map tasks of every stage. */
const SPLIT = ["--split-size", "2k"];

const s = new Scratch("hosts-etl");
const db = new pg.Client({ connectionString: DB });
const tag = `${process.pid}_${Date.now().toString(36)}`;
const schemas = { local: `sheaf_it_hosts_local_${tag}`, hosts: `sheaf_it_hosts_etl_${tag}` };
let net: Hosts;

/** `url` with its sessions' search_path set to `schema`: bare table names (daily_revenue, sheaf_loads) resolve there. */
function inSchema(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set("options", `-c search_path=${schema}`);
  return u.href;
}

const rows = async (schema: string) => (await db.query(`SELECT day, country, orders, revenue FROM ${schema}.daily_revenue ORDER BY day, country`)).rows;

describe.skipIf(skip)("the ETL example pipeline on three hosts, into PostgreSQL", () => {
  beforeAll(async () => {
    await db.connect();
    for (const schema of Object.values(schemas)) await db.query(`CREATE SCHEMA ${schema}`);
    net = await Hosts.create("etl", 3, { database: inSchema(DB, schemas.hosts) });
  }, 60_000);
  afterAll(async () => {
    await net?.destroy();
    for (const schema of Object.values(schemas)) await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.end();
    s.cleanup();
  });

  it("raw CSV in the store → Parquet in the store → PostgreSQL: the rows equal sheaf run's on local files", async () => {
    const orders = s.path("orders");
    mkdirSync(join(orders, DAY), { recursive: true });
    cpSync(join(EXAMPLE_JOBS, "data/orders.csv"), join(orders, DAY, "orders.csv"));
    const warehouse = s.path("warehouse");
    const local = spawnSync(process.execPath, [CLI, "run", PIPELINE, "--at", DAY, ...params({ orders, warehouse }), ...SPLIT, "--workdir", s.path("local-wd"), "-q"], {
      cwd: REPO,
      encoding: "utf8",
      env: { ...process.env, DATABASE_URL: inSchema(DB, schemas.local) },
    });
    expect(local.status, local.stderr).toBe(0);
    const want = await rows(schemas.local);
    expect(want.length).toBeGreaterThan(5);

    const store = net.store!;
    await store.client().send(new PutObjectCommand({ Bucket: store.bucket, Key: `raw/${DAY}/orders.csv`, Body: readFileSync(join(orders, DAY, "orders.csv")) }));
    const env = { SHEAF_WORKDIR: `s3://${net.store!.bucket}/work`, SHEAF_SECRET: SECRET }; // the workdir in the store: nothing shared but Redis and the store
    const [host0, ...workers] = net.hosts as [Host, ...Host[]];
    const coordinator = host0.sheaf(["coordinator"], env);
    await until("the coordinator to lead", () => /leader \(epoch/.test(coordinator.output()), 20_000);
    for (const h of workers) h.sheaf(["worker", "--threads", "1", "--local-dir", join(h.localDir, "shuffle")], env);
    const b = `s3://${store.bucket}`;
    const started = Date.now();
    const submit = host0.sheaf(["submit", PIPELINE, "--at", DAY, ...params({ orders: `${b}/raw`, warehouse: `${b}/wh` }), ...SPLIT, "--wait"], env);
    expect(await submit.exited, submit.output()).toBe(0);
    console.log(`the ETL pipeline on three hosts: ${Date.now() - started} ms from submit to its end`);
    expect(submit.output()).toMatch(/stage load: succeeded/);

    expect(await rows(schemas.hosts)).toEqual(want);
    for (const stage of ["clean", "daily"]) {
      const parts = (await readOutput(store, `wh/${stage}/date=${DAY}/`)).parts;
      expect(parts, stage).toEqual(partFiles(join(warehouse, stage, `date=${DAY}`)).map((p) => p.bytes));
    }
    // One load recorded, by the hosts' run: the local run's is in its own schema.
    const loads = await db.query(`SELECT count(*)::int AS n FROM ${schemas.hosts}.sheaf_loads`);
    expect(loads.rows[0].n).toBe(1);
  }, 180_000);
});
