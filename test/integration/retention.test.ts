/**
 * Retention on a real cluster: a coordinator run with `--keep-jobs 50` drives 1,000 tiny jobs, and
 * Redis stays flat (key count and memory measured after 200 jobs and after 1,000), `sheaf status`
 * still lists the 50 newest, and an idle coordinator's scans no longer read every kept record.
 * Then artifacts: one that nothing unfinished names is deleted after the grace period, one a
 * schedule names is kept; and the schedule's fired due times older than the retention are forgotten.
 *
 * Submitting 1,000 jobs through the CLI would take minutes (a bundle and a process each), so the
 * test submits one with `sheaf submit` and clones its record: the same hash with a new id, output
 * and parameter, added to every sorted set the CLI put the original in (found in Redis, so the
 * test does not assume which sets those are), and the same `submitted` message. Each clone's
 * output is checked against what its parameter and input must give.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Proc } from "./cluster-harness.js";
import { Cluster } from "./cluster-harness.js";
import { delay, redisOf, until } from "./fault-kit.js";
import { Scratch } from "./helpers.js";

const s = new Scratch("retention");
const cluster = new Cluster(s.path("wd"));
const KEEP = 50;
const JOBS = 1000;
const WAVE = 100;

/** Map-only: each line becomes `<n>\t<line>`, `n` the job's parameter, so every clone's output is its own. */
const JOB_SOURCE = `import { defineJob, lines } from "sheaf";
export default defineJob({
  name: "tiny",
  input: lines(),
  map(line: string, emit, ctx) { emit(ctx.params.n, line); },
});
`;
const INPUT_LINES = ["alpha", "beta", "gamma"];

let JOB = "";
let INPUT = "";
let coordinator: Proc;

const redis = () => redisOf(cluster);

interface Figures {
  keys: number;
  usedMemory: number;
  /** BullMQ's task event log: it grows with tasks until BullMQ's cap (10,000 events), then stays. */
  eventLog: number;
}

async function memory(): Promise<Figures> {
  const info = await redis().info("memory");
  return {
    keys: await redis().dbsize(),
    usedMemory: Number(/used_memory:(\d+)/.exec(info)![1]),
    eventLog: Number(await redis().memory("USAGE", "sheaf:tasks:events")),
  };
}

/** Calls of the commands that read a record's fields, from Redis's own counters. */
async function recordReads(): Promise<number> {
  const stats = await redis().info("commandstats");
  let n = 0;
  for (const cmd of ["hget", "hmget", "hgetall"]) n += Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
  return n;
}

/** The sorted sets under the prefix holding `id` (where `sheaf submit` put it). */
async function setsHolding(id: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = (await redis().call("SCAN", cursor, "MATCH", "sheaf:*", "TYPE", "zset", "COUNT", 1000)) as [string, string[]];
    cursor = next;
    for (const k of keys) if ((await redis().zscore(k, id)) !== null) out.push(k);
  } while (cursor !== "0");
  return out;
}

/** Clones the queued template job `n` times from `from`, as `sheaf submit` would have queued each. */
async function cloneJobs(template: { spec: Record<string, unknown>; sets: string[] }, from: number, count: number): Promise<string[]> {
  const ids: string[] = [];
  const m = redis().multi();
  for (let n = from; n < from + count; n++) {
    const id = `tiny-clone-${String(n).padStart(5, "0")}`;
    const submittedAt = Date.now() + n; // distinct, increasing: status lists newest first
    const spec = { ...template.spec, id, output: s.path("out", String(n)), params: { n: String(n) }, submittedAt };
    m.hset(`sheaf:job:${id}`, { spec: JSON.stringify(spec), state: "queued" });
    for (const set of template.sets) m.zadd(set, submittedAt, id);
    m.publish("sheaf:events", `submitted ${id}`);
    ids.push(id);
  }
  await m.exec();
  return ids;
}

/** Waits until every job of `ids` wrote `_SUCCESS` (a job's record may be gone by then: it was pruned). */
async function waitOutputs(from: number, count: number): Promise<void> {
  await until(`jobs ${from}..${from + count - 1} done`, () => {
    for (let n = from; n < from + count; n++) if (!existsSync(join(s.path("out", String(n)), "_SUCCESS"))) return false;
    return true;
  }, 120_000, 100);
}

function expectOutput(n: number): void {
  const text = readFileSync(join(s.path("out", String(n)), "part-00000"), "utf8");
  expect(text).toBe(INPUT_LINES.map((l) => `${n}\t${l}\n`).join(""));
}

/** Waits until retention has brought the job list down to KEEP, then for Redis to settle. */
async function settled(): Promise<Figures> {
  await until("retention down to the kept jobs", async () => (await redis().zcard("sheaf:jobs")) === KEEP, 30_000, 100);
  await delay(1500);
  return memory();
}

let template: { spec: Record<string, unknown>; sets: string[] };

beforeAll(async () => {
  JOB = s.write("job/tiny.ts", JOB_SOURCE);
  INPUT = s.write("in/three.txt", INPUT_LINES.join("\n") + "\n");
  await cluster.startRedis();
  // Submitted with no coordinator running, so it is still queued when cloned.
  const r = await cluster.run(["submit", JOB, "--input", INPUT, "--output", s.path("out", "template"), "--param", "n=template"]);
  expect(r.code, r.output).toBe(0);
  const id = r.stdout.trim();
  const h = await redis().hgetall(`sheaf:job:${id}`);
  expect(h.state).toBe("queued");
  template = { spec: JSON.parse(h.spec!), sets: await setsHolding(id) };
  coordinator = await cluster.coordinator(["--keep-jobs", String(KEEP)]);
  await cluster.worker(2);
}, 60_000);

afterAll(async () => {
  await cluster.stop();
  cluster.assertNoLeaks();
  s.cleanup();
});

describe("retention", () => {
  let submitted: string[] = [];

  it(`keeps Redis flat over ${JOBS} jobs: the ${KEEP} newest finished stay, the rest go with all their keys`, async () => {
    let at200: Figures | undefined;
    for (let from = 0; from < JOBS; from += WAVE) {
      submitted.push(...(await cloneJobs(template, from, WAVE)));
      await waitOutputs(from, WAVE);
      if (from + WAVE === 200) at200 = await settled();
    }
    const at1000 = await settled();
    const record = Number(await redis().memory("USAGE", `sheaf:job:${submitted.at(-1)}`));
    console.log(`retention: after 200 jobs ${at200!.keys} keys, ${at200!.usedMemory} B used (event log ${at200!.eventLog} B); ` +
      `after ${JOBS} jobs ${at1000.keys} keys, ${at1000.usedMemory} B used (event log ${at1000.eventLog} B); a kept record ${record} B`);
    for (const n of [0, 1, 499, 998, 999]) expectOutput(n);

    // Flat: 50 job records, each with its attempts' timeline (what status and the dashboard show of
    // them), plus a fixed set of queue, lease, index and heartbeat keys, whatever the number of jobs.
    expect(await redis().exists(`sheaf:job:${submitted.at(-1)}:timeline`)).toBe(1);
    expect(at1000.keys).toBeLessThanOrEqual(2 * KEEP + 30);
    expect(at1000.keys).toBeLessThanOrEqual(at200!.keys + 2);
    // Memory besides BullMQ's capped event log: flat within 256 KiB, where keeping the 800 more
    // records would add 800 × a record's size (about 1 KiB each).
    expect(record).toBeGreaterThan(512);
    expect(at1000.usedMemory - at1000.eventLog).toBeLessThan(at200!.usedMemory - at200!.eventLog + 256 * 1024);
    expect(await redis().xlen("sheaf:tasks:events")).toBeLessThanOrEqual(10_100);
    // Nothing of a pruned job is left: no key names one of the first 950 ids.
    const left = new Set<string>();
    let cursor = "0";
    do {
      const [next, keys] = await redis().scan(cursor, "MATCH", "*tiny-clone-*", "COUNT", 1000);
      cursor = next;
      for (const k of keys) left.add(/tiny-clone-\d+/.exec(k)![0]);
    } while (cursor !== "0");
    // Retention keeps the newest by finish time. Waves run one after another, so those are KEEP of
    // the last wave's jobs (within a wave, jobs finish in no fixed order).
    const lastWave = new Set(submitted.slice(-WAVE));
    expect(left.size).toBe(KEEP);
    for (const id of left) expect(lastWave.has(id), id).toBe(true);
  }, 180_000);

  it("still shows the kept jobs in `sheaf status`, newest first", async () => {
    const r = await cluster.run(["status", "--limit", "100"]);
    expect(r.code, r.output).toBe(0);
    const rows = r.stdout.split("\n").filter((l) => l.includes("tiny-clone-"));
    const ids = rows.map((l) => /tiny-clone-\d+/.exec(l)![0]);
    // The kept jobs (KEEP of the last wave), listed newest submitted first.
    const order = new Map(submitted.map((id, i) => [id, i]));
    expect(ids).toHaveLength(KEEP);
    for (const id of ids) expect(order.get(id)!, id).toBeGreaterThanOrEqual(submitted.length - WAVE);
    expect(ids).toEqual([...ids].sort((a, b) => order.get(b)! - order.get(a)!));
    for (const row of rows) expect(row).toMatch(/succeeded/);
  });

  it("does not read every kept record at each scan", async () => {
    // An idle leader scans every second. Reading each kept record's state would cost ≥ KEEP reads a scan.
    const before = await recordReads();
    await delay(3000);
    const reads = (await recordReads()) - before;
    console.log(`retention: ${reads} record reads in 3 s idle, ${KEEP} records kept`);
    expect(reads).toBeLessThan(KEEP);
  });

  it("runs and prunes records written by an earlier version (no unfinished or finished sets)", async () => {
    // As an earlier `sheaf submit` and coordinator left them, under a prefix of their own: the hash and the jobs zset only.
    const r = redis();
    const finishedAt = Date.now() - 60_000;
    const done = { ...template.spec, id: "legacy-done", output: s.path("out", "legacy-done"), params: { n: "done" }, submittedAt: finishedAt - 1000 };
    const queued = { ...template.spec, id: "legacy-queued", output: s.path("out", "legacy"), params: { n: "legacy" }, submittedAt: finishedAt + 1000 };
    await r.hset("legacy:job:legacy-done", { spec: JSON.stringify(done), state: "succeeded", startedAt: String(finishedAt - 500), finishedAt: String(finishedAt) });
    await r.hset("legacy:job:legacy-queued", { spec: JSON.stringify(queued), state: "queued" });
    await r.zadd("legacy:jobs", done.submittedAt, "legacy-done", queued.submittedAt, "legacy-queued");

    const legacyCoordinator = await cluster.coordinator(["--prefix", "legacy", "--keep-jobs", "1"]);
    const legacyWorker = await cluster.worker(1, ["--prefix", "legacy"]);
    await until("the queued legacy job done", () => existsSync(join(s.path("out", "legacy"), "_SUCCESS")), 30_000, 100);
    expect(readFileSync(join(s.path("out", "legacy"), "part-00000"), "utf8")).toBe(INPUT_LINES.map((l) => `legacy\t${l}\n`).join(""));
    // Keep 1: the job finished earlier goes, the one just run stays.
    await until("the older finished record pruned", async () => (await r.exists("legacy:job:legacy-done")) === 0, 10_000, 100);
    expect(await r.zrange("legacy:jobs", "0", "-1")).toEqual(["legacy-queued"]);
    expect(await r.hget("legacy:job:legacy-queued", "state")).toBe("succeeded");
    for (const p of [legacyWorker, legacyCoordinator]) {
      p.child.kill("SIGTERM");
      await p.exited;
    }
  }, 60_000);

  it("collects an artifact nothing unfinished names after the grace period, keeps a schedule's, and forgets its old due times", async () => {
    const artifact = template.spec.artifact as string;
    expect(existsSync(artifact)).toBe(true);
    const scheduled = s.write("job/scheduled.ts", JOB_SOURCE.replace('"tiny"', '"scheduled"'));
    const add = await cluster.run(["schedule", "add", "nightly", scheduled, "--cron", "0 3 1 1 *", "--input", INPUT, "--output", s.path("out", "sched")]);
    expect(add.code, add.output).toBe(0);
    const schedArtifact = JSON.parse((await redis().hget("sheaf:schedule:nightly", "spec"))!).artifact as string;
    expect(existsSync(schedArtifact)).toBe(true);

    // Fired due times (due → run id), which grow by one per due time: one from before the 7-day retention, two within it.
    const day = 86_400_000;
    const fired = "sheaf:schedule:nightly:fired";
    const [old, recent, latest] = [Date.now() - 10 * day, Date.now() - 2 * 3_600_000, Date.now() - 60_000].map(String);
    await redis().hset(fired, old!, "nightly.run-old", recent!, "nightly.run-recent", latest!, "");

    coordinator.child.kill("SIGTERM");
    await coordinator.exited;
    coordinator = await cluster.coordinator(["--keep-jobs", String(KEEP), "--artifact-grace", "1s"]);
    // The new coordinator learns the workdir from a job it drives.
    const r = await cluster.run(["submit", JOB, "--input", INPUT, "--output", s.path("out", "last"), "--param", "n=last", "--wait", "-q"]);
    expect(r.code, r.output).toBe(0);
    await until("the unreferenced artifact collected", () => !existsSync(artifact), 15_000, 100);
    await delay(2500); // two more collections
    expect(existsSync(schedArtifact)).toBe(true);
    expect((await redis().hkeys(fired)).sort()).toEqual([recent, latest].sort());
    expect(readFileSync(join(s.path("out", "last"), "part-00000"), "utf8")).toBe(INPUT_LINES.map((l) => `last\t${l}\n`).join(""));
  }, 60_000);
});
