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
import { redisOf, until } from "./fault-kit.js";
import { Scratch } from "./helpers.js";

const s = new Scratch("lost-records");
const cluster = new Cluster(s.path("wd"));
let pipeline = "";

beforeAll(async () => {
  const input = s.write("in/a.txt", "alpha beta\ngamma\n");
  pipeline = s.write(
    "two.ts",
    `import { defineJob, definePipeline, lines, tsv } from "sheaf";
const slow = defineJob({ name: "slow", input: lines(), setup(ctx) { if (ctx.params.sleep) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500); }, map(l: string, emit) { emit(l, 1); }, output: tsv() });
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
    const first = await cluster.run(["submit", pipeline, "--param", "sleep=1"]);
    expect(first.code, first.output).toBe(0);
    const runId = first.stdout.trim().split("\n")[0]!;
    const again = await cluster.run(["submit", pipeline, "--param", "sleep=1"]);
    expect(again.code).toBe(1);
    expect(again.output).toMatch(new RegExp(`sheaf: pipeline two is already running for \\S+ as run ${runId.replace(/[.]/g, "\\.")}: wait for it`));
    await until("the first run to end", async () => (await redisOf(cluster).hget(`sheaf:run:${runId}`, "state")) === "succeeded", 30_000, 100);
    expect((await cluster.run(["submit", pipeline, "--wait"])).code).toBe(0);
  }, 90_000);
});
