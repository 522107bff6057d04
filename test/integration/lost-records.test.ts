/**
 * A record lost from Redis (the last second of an AOF cut by a crash, a wipe) must not hang a run for
 * ever (issue "Found by fault injection", finding 2: the run's driver polled a stage's job record
 * whose spec was gone, `status` said `running` indefinitely, and every later due time of its
 * schedule was skipped as "still running"). Here a stage's job record is deleted while it runs: the
 * stage fails, naming the lost job, and the run ends; a rerun of the pipeline succeeds. And a
 * pipeline resubmitted while its run is going is refused, naming the run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "./cluster-harness.js";
import { delay, redisOf, until } from "./fault-kit.js";
import { Scratch } from "./helpers.js";

const s = new Scratch("lost-records");
const cluster = new Cluster(s.path("wd"));
let pipeline = "";

beforeAll(async () => {
  const input = s.write("in/a.txt", "alpha beta\ngamma\n");
  pipeline = s.write(
    "two.ts",
    `import { defineJob, definePipeline, lines, tsv } from "sheaf";
const slow = defineJob({ name: "slow", input: lines(), setup(ctx) { if (ctx.params.sleep) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500 * Number(ctx.params.sleep)); }, map(l: string, emit) { emit(l, 1); }, output: tsv() });
const copy = defineJob({ name: "copy", input: lines(), map(l: string, emit) { emit(l, 1); }, output: tsv() });
export default definePipeline({ name: "two", stages: { a: { job: slow, input: [${JSON.stringify(input)}], output: ${JSON.stringify(s.path("wh", "a"))} }, b: { job: copy, input: "a", output: ${JSON.stringify(s.path("wh", "b"))} } } });
`,
  );
  await cluster.startRedis();
  await cluster.coordinator();
  await cluster.worker(2);
});
afterAll(async () => {
  await cluster.stop();
  cluster.assertNoLeaks();
  s.cleanup();
});

describe("a stage's job record lost while the run waits for it", () => {
  it("fails the stage, naming the lost job, and ends the run; a rerun succeeds", async () => {
    const sub = await cluster.run(["submit", pipeline, "--param", "sleep=1"]);
    expect(sub.code, sub.output).toBe(0);
    const runId = sub.stdout.trim().split("\n")[0]!;
    let jobId = "";
    await until("stage a's job", async () => (jobId = /"a":\{[^}]*"jobId":"([^"]+)"/.exec((await redisOf(cluster).hget(`sheaf:run:${runId}`, "stages")) ?? "")?.[1] ?? "") !== "", 30_000, 20);
    await redisOf(cluster).del(`sheaf:job:${jobId}`);
    await until("the run to end", async () => ["failed", "succeeded", "cancelled"].includes((await redisOf(cluster).hget(`sheaf:run:${runId}`, "state")) ?? ""), 30_000, 100);
    expect(await redisOf(cluster).hget(`sheaf:run:${runId}`, "state")).toBe("failed");
    expect(await redisOf(cluster).hget(`sheaf:run:${runId}`, "error")).toContain(`stage a: its job ${jobId} is gone from Redis`);
    const again = await cluster.run(["submit", pipeline, "--wait"]);
    expect(again.code, again.output).toBe(0);
  }, 90_000);

  it("a pipeline resubmitted while its run is going is refused, naming that run (issue 24)", async () => {
    const first = await cluster.run(["submit", pipeline, "--param", "sleep=4"]);
    expect(first.code, first.output).toBe(0);
    const runId = first.stdout.trim().split("\n")[0]!;
    const again = await cluster.run(["submit", pipeline, "--param", "sleep=4"]);
    expect(again.code).toBe(1);
    expect(again.output).toMatch(new RegExp(`sheaf: pipeline two is already running for \\S+ as run ${runId.replace(/[.]/g, "\\.")}: wait for it`));
    await until("the first run to end", async () => (await redisOf(cluster).hget(`sheaf:run:${runId}`, "state")) === "succeeded", 30_000, 100);
    expect((await cluster.run(["submit", pipeline, "--wait"])).code).toBe(0);
  }, 90_000);
});

describe("what a coordinator says and records across a failover and a wipe (issue 24, finding 5)", () => {
  const c = new Cluster(s.path("wd-failover"));
  let file = "";
  beforeAll(async () => {
    const input = s.write("in/f.txt", "alpha beta\ngamma\n");
    file = s.write(
      "held.ts",
      `import { defineJob, definePipeline, lines, tsv } from "sheaf";
const held = defineJob({ name: "held", input: lines(), setup(ctx) { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(ctx.params.holdMs)); }, map(l: string, emit) { emit(l, 1); }, output: tsv() });
export default definePipeline({ name: "held", stages: { a: { job: held, input: [${JSON.stringify(input)}], output: ${JSON.stringify(s.path("wh-f", "a"))} } } });
`,
    );
    await c.startRedis();
  });
  afterAll(async () => {
    await c.stop();
    c.assertNoLeaks();
  });

  const stageA = async (runId: string) => (JSON.parse((await redisOf(c).hget(`sheaf:run:${runId}`, "stages")) ?? "{}") as Record<string, { state: string; startedAt?: number; millis?: number }>).a;

  it("a stage resumed by the standby keeps its start: its time counts from before the failover", async () => {
    const leader = await c.coordinator();
    const standby = await c.coordinator([], true);
    await c.worker(1);
    const sub = await c.run(["submit", file, "--param", "holdMs=5000"]);
    expect(sub.code, sub.output).toBe(0);
    const runId = sub.stdout.trim().split("\n")[0]!;
    await until("stage a running", async () => (await stageA(runId))?.state === "running", 30_000, 20);
    const startedAt = (await stageA(runId))!.startedAt!;
    await delay(1_000);
    leader.child.kill("SIGKILL");
    await until("the run to end", async () => ["failed", "succeeded", "cancelled"].includes((await redisOf(c).hget(`sheaf:run:${runId}`, "state")) ?? ""), 60_000, 100);
    const a = (await stageA(runId))!;
    expect(a.state).toBe("succeeded");
    expect(a.startedAt).toBe(startedAt);
    expect(a.millis!).toBeGreaterThanOrEqual(4_500); // the task held 5 s from before the kill; counted from the resume it was under 4 s
    expect(standby.output()).toContain("leader (epoch");
  }, 90_000);

  it("a job whose record a wipe removed is said to be given up, not left to resume", async () => {
    const sub = await c.run(["submit", file, "--param", "holdMs=3000"]);
    expect(sub.code, sub.output).toBe(0);
    const runId = sub.stdout.trim().split("\n")[0]!;
    await until("stage a running", async () => (await stageA(runId))?.state === "running", 30_000, 20);
    await redisOf(c).flushall();
    const leader = c.procs.find((p) => p.child.spawnargs.includes("coordinator") && p.child.exitCode === null && p.child.signalCode === null && p.output().includes("leader (epoch"))!;
    await until("the coordinator to give the run up", () => /given up: its record is gone from Redis/.test(leader.output()), 30_000, 100).catch((err) => { throw new Error(`${err.message}; coordinator said:\n${leader.output().slice(-3000)}`); });
    expect(leader.output()).not.toMatch(/left to resume|stays in Redis for the next scan/);
  }, 90_000);
});
