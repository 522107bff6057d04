/**
 * Jobs on three hosts (network namespaces, test/integration/hosts.ts) that share nothing but Redis
 * and the object store beside them: inputs, outputs and the workdir (job code, the reduce tasks'
 * lists of map outputs) are in the store. A coordinator on host0, a worker on host1 (map outputs on
 * its tmpfs, --local-dir) and one on host2 (no --local-dir: its OS temp folder, on its tmpfs too),
 * each serving its map outputs to reducers over HTTP. Outputs an independent reader gets from the
 * store (the manifest's parts) must equal `sheaf run` over local files, also when a host is lost
 * mid-shuffle or cut off. (The hosts do see the root filesystem: the job files the submitter
 * bundles, and the tests' own marks, are read from there; nothing Sheaf writes is.)
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { FAULTY, freshDir, markers, until, writeCorpus } from "./fault-kit.js";
import { CLI, EXAMPLE_JOBS, makeRng, partFiles, REPO, Scratch } from "./helpers.js";
import { Hosts, hostsUnavailable, type Host } from "./hosts.js";
import { readOutput } from "./object-store.js";

const skip = hostsUnavailable();
const s = new Scratch("hosts-jobs");
let net: Hosts;
let files: string[] = [];
const workdir = () => `s3://${net.store!.bucket}/work`;
const SECRET = "hosts-jobs-secret-0123456789abcdef";
const env = () => ({ SHEAF_WORKDIR: workdir(), SHEAF_SECRET: SECRET });
/** A worker with its map outputs on the host's own tmpfs, served to the others (host1's in the folder it is given). */
const worker = (h: Host) => h.sheaf(["worker", "--threads", "1", "--lock", "3000", ...(h === net.hosts[1] ? ["--local-dir", join(h.localDir, "shuffle")] : [])], env());

/** The output as an independent reader gets it from the store: the parts its manifest lists. */
const manifestParts = async (prefix: string): Promise<Buffer[]> => (await readOutput(net.store!, prefix)).parts;
const listKeys = async (prefix: string): Promise<string[]> =>
  ((await net.store!.client().send(new ListObjectsV2Command({ Bucket: net.store!.bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!);
function runLocally(args: string[]): void {
  const r = spawnSync(process.execPath, [CLI, "run", ...args, "--workdir", s.path("local-wd"), "-q"], { cwd: REPO, encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
}

/**
 * The fault jobs: word count whose reduces sleep `reduceMs` first, run locally (the oracle) and
 * submitted from host0 to write s3://…/<name>/, each task run marking its start in a folder every
 * host sees. Returns the local output, the marks and the job's id.
 */
async function submitFaulty(name: string, reduceMs: number): Promise<{ local: string; marks: string; id: string }> {
  const local = s.fresh(`${name}-local`);
  const job = [FAULTY, "--param", `reduceMs=${reduceMs}`, "--split-size", "64k", "--partitions", "4"];
  runLocally([...job, "-i", ...files, "-o", local]);
  const b = `s3://${net.store!.bucket}`;
  const marks = freshDir(s, `${name}-marks`);
  const submit = net.hosts[0]!.sheaf(["submit", ...job, "--param", `markDir=${marks}`, "-i", `${b}/in/`, "-o", `${b}/${name}/`], env());
  expect(await submit.exited, submit.output()).toBe(0);
  return { local, marks, id: submit.output().trim().split("\n").at(-1)! };
}

describe.skipIf(skip)("three hosts, inputs and outputs in the object store", () => {
  beforeAll(async () => {
    net = await Hosts.create("jobs", 3);
    files = writeCorpus(s, "corpus", 4, 150_000, 600, 3);
    for (const f of files) await net.store!.client().send(new PutObjectCommand({ Bucket: net.store!.bucket, Key: `in/${basename(f)}`, Body: readFileSync(f) }));
    const coordinator = net.hosts[0]!.sheaf(["coordinator", "--lease", "2000"], env());
    await until("the coordinator to lead", () => /leader \(epoch/.test(coordinator.output()), 20_000);
    for (const h of net.hosts.slice(1)) worker(h);
  }, 120_000);
  afterAll(async () => {
    await net?.destroy();
    s.cleanup();
  });

  it("word count: s3 in, s3 out, the parts equal sheaf run's on local files", async () => {
    const local = s.fresh("wc-local");
    runLocally([join(EXAMPLE_JOBS, "wordcount.ts"), "-i", ...files, "-o", local, "--split-size", "64k"]);
    const submit = net.hosts[0]!.sheaf(["submit", join(EXAMPLE_JOBS, "wordcount.ts"), "-i", `s3://${net.store!.bucket}/in/`, "-o", `s3://${net.store!.bucket}/wc/`, "--split-size", "64k", "--wait", "-q"], env());
    expect(await submit.exited, submit.output()).toBe(0);
    expect(await manifestParts("wc/")).toEqual(partFiles(local).map((p) => p.bytes));
    // The job code went through the store; the job's scratch objects (its lists of map outputs) are gone.
    const work = await listKeys("work/");
    expect(work.filter((k) => /^work\/artifacts\/[0-9a-f]{64}\.mjs$/.test(k)).length).toBeGreaterThan(0);
    expect(work.filter((k) => k.startsWith("work/jobs/"))).toEqual([]);
  }, 120_000);

  it("TeraSort: s3 in, s3 out, the parts (one total order) equal sheaf run's", async () => {
    const rng = makeRng(5);
    const printable = (n: number) => Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(rng() * 95))).join("");
    const records = Array.from({ length: 20_000 }, (_, i) => printable(10) + String(i).padStart(10, "0") + "x".repeat(79)).join("\n") + "\n";
    const file = s.write("records.txt", records);
    await net.store!.client().send(new PutObjectCommand({ Bucket: net.store!.bucket, Key: "sort/in/records.txt", Body: records }));
    const local = s.fresh("sort-local");
    const args = [join(EXAMPLE_JOBS, "terasort.ts"), "--split-size", "256k", "--partitions", "3"];
    runLocally([...args, "-i", file, "-o", local]);
    const b = `s3://${net.store!.bucket}`;
    const submit = net.hosts[0]!.sheaf(["submit", ...args, "-i", `${b}/sort/in/`, "-o", `${b}/sort/out/`, "--wait", "-q"], env());
    expect(await submit.exited, submit.output()).toBe(0);
    const parts = await manifestParts("sort/out/");
    expect(parts).toEqual(partFiles(local).map((p) => p.bytes));
    expect(Buffer.concat(parts).toString("latin1")).toBe(records.split("\n").slice(0, -1).sort().join("\n") + "\n");
  }, 120_000);

  it("the ETL chain: CSV in the store → Parquet in the store → Parquet read back, equal to the chain on local folders", async () => {
    const orders = join(EXAMPLE_JOBS, "data/orders.csv");
    await net.store!.client().send(new PutObjectCommand({ Bucket: net.store!.bucket, Key: "raw/orders.csv", Body: readFileSync(orders) }));
    const [clean, revenue] = [s.fresh("clean"), s.fresh("revenue")];
    runLocally([join(EXAMPLE_JOBS, "clean-orders.ts"), "-i", orders, "-o", clean, "--split-size", "2k"]);
    runLocally([join(EXAMPLE_JOBS, "daily-revenue.ts"), "-i", clean, "-o", revenue, "--split-size", "2k"]);
    const b = `s3://${net.store!.bucket}`;
    const first = net.hosts[0]!.sheaf(["submit", join(EXAMPLE_JOBS, "clean-orders.ts"), "-i", `${b}/raw/orders.csv`, "-o", `${b}/etl/clean/`, "--split-size", "2k", "--wait", "-q"], env());
    expect(await first.exited, first.output()).toBe(0);
    const second = net.hosts[0]!.sheaf(["submit", join(EXAMPLE_JOBS, "daily-revenue.ts"), "-i", `${b}/etl/clean/`, "-o", `${b}/etl/revenue/`, "--split-size", "2k", "--wait", "-q"], env());
    expect(await second.exited, second.output()).toBe(0);
    expect(await manifestParts("etl/clean/")).toEqual(partFiles(clean).map((p) => p.bytes));
    expect(await manifestParts("etl/revenue/")).toEqual(partFiles(revenue).map((p) => p.bytes));
  }, 120_000);

  it("a host cut off (its link down) past its task lock, then healed: its late work is refused and the output is identical", async () => {
    const { local, marks, id } = await submitFaulty("cut", 2500);
    const redis = new Redis(net.redisUrl);
    const host2 = net.hosts[2]!;
    try {
      const ran = (task: string) => markers(marks, task, "start").length;
      await until("a reduce task started on each worker", () => markers(marks, undefined, "start").filter((m) => m.task.startsWith("reduce-")).length >= 2, 60_000, 20);
      const held = ["reduce-00000", "reduce-00001", "reduce-00002", "reduce-00003"].filter((t) => ran(t) > 0);
      host2.cut();
      const cutAt = Date.now();
      // Past the lock (3 s) and the stall check: host2's running reduce is no longer its own. (A fetch
      // already connected to the cut host hangs until its idle timeout, so the cut is healed before
      // those give up; new connections give up after 5 s: hosts-fetch.test.ts.)
      await new Promise((r) => setTimeout(r, 8_000));
      host2.heal();
      await until("the job to end", async () => ["succeeded", "failed", "cancelled"].includes((await redis.hget(`sheaf:job:${id}`, "state")) ?? ""), 150_000, 100);
      expect(await redis.hget(`sheaf:job:${id}`, "state"), (await redis.hget(`sheaf:job:${id}`, "error")) ?? "").toBe("succeeded");
      console.log(`FAULT host cut off for 8 s: the job ended ${Date.now() - cutAt} ms after the cut`);
      expect(await manifestParts("cut/")).toEqual(partFiles(local).map((p) => p.bytes));
      // The reduce host2 held when it was cut ran again, and only one run of it was committed (identical output).
      expect(held.some((t) => ran(t) > 1), JSON.stringify(held.map((t) => [t, ran(t)]))).toBe(true);
    } finally {
      redis.disconnect();
      host2.heal();
    }
  }, 180_000);

  it("a host lost mid-shuffle (every process killed, its tmpfs gone): its map outputs are made again, and the output is identical", async () => {
    const { local, marks, id } = await submitFaulty("lost", 1500);
    const redis = new Redis(net.redisUrl);
    try {
      const progress = async () => JSON.parse((await redis.hget(`sheaf:job:${id}`, "progress")) ?? "{}") as { mapsDone?: number; mapsTotal?: number; reducesDone?: number };
      await until("every map committed, the reduces not done", async () => { const p = await progress(); return p.mapsDone !== undefined && p.mapsDone === p.mapsTotal; }, 60_000, 20);
      const host2 = net.hosts[2]!;
      const lostAt = Date.now();
      await host2.kill();
      await until("the job to end", async () => ["succeeded", "failed", "cancelled"].includes((await redis.hget(`sheaf:job:${id}`, "state")) ?? ""), 90_000, 100);
      const recovery = Date.now() - lostAt;
      expect(await redis.hget(`sheaf:job:${id}`, "state"), await redis.hget(`sheaf:job:${id}`, "error") ?? "").toBe("succeeded");
      console.log(`FAULT host lost mid-shuffle: the job ended ${recovery} ms after the host was killed`);
      expect(await manifestParts("lost/")).toEqual(partFiles(local).map((p) => p.bytes));
      // The lost host's map outputs were made again: some map task ran more than once.
      const runs = new Map<string, number>();
      for (const m of markers(marks, undefined, "start")) if (m.task.startsWith("map-")) runs.set(m.task, (runs.get(m.task) ?? 0) + 1);
      expect([...runs.values()].some((n) => n > 1), JSON.stringify(Object.fromEntries(runs))).toBe(true);
    } finally {
      redis.disconnect();
      await net.hosts[2]!.start();
      worker(net.hosts[2]!);
    }
  }, 180_000);
});
