/**
 * Plan and record tampering (red team, findings 2, 4 and 7), by someone who can write anywhere in
 * Redis but holds no SHEAF_SECRET, on a real cluster with a secret, `--allow-root` on every process
 * (the secret file the attacker wants read lies inside the root: only the signatures stop it) and
 * the worker connected as the `sheaf acl` user:
 * - a plan written into a job's record before the coordinator plans it (the HSETNX race the worker
 *   user won 3 times in 4), or into a running job's record for its resume, is refused (FORGED_PLAN):
 *   the secret file it names as input is never read into the output;
 * - a finished job's record set back to queued runs again only as a fresh job would: its output,
 *   which holds `_SUCCESS`, is refused without --overwrite and stays as it was;
 * - a pipeline run's spec changed after the run was admitted (its artifact pointed at a module that
 *   writes a marker when loaded) does not reach its later stages: the marker never appears;
 * - a signed task message captured while its job ran, queued again once the job finished, is refused
 *   (REPLAYED_TASK): the worker user cannot set the job back to running, and its setup never reruns;
 * - a due time pushed by hand into a paused schedule's queue never fires.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobScratchDir } from "../../core/storage.js";
import { Cluster } from "./cluster-harness.js";
import { FAULTY, markers, params, redisOf, until } from "./fault-kit.js";
import { deliverRaw } from "./raw-queue.js";
import { builtBundleJob, EXAMPLE_JOBS, outputText, parseTsv, Scratch, wordCounts } from "./helpers.js";

const SECRET = "tamper-secret-0123456789abcdef";
const signed = { SHEAF_SECRET: SECRET };
const s = new Scratch("tampering");
const workdir = s.path("workdir");
const cluster = new Cluster(workdir);
const marker = s.path("marker");
const WORDCOUNT = join(EXAMPLE_JOBS, "wordcount.ts");
let secretFile = "";
let input = "";
const corpus = Array.from({ length: 200 }, (_, i) => `alpha beta w${i % 11}`).join("\n") + "\n";

const roots = ["--allow-root", s.root];
let workerUser: Redis;
let queue: Queue;

beforeAll(async () => {
  input = s.write("input/corpus.txt", corpus);
  secretFile = s.write("private/salaries.txt", "salary ceo 990000\nsalary cto 870000\n");
  await cluster.startRedis();
  const acl = await cluster.run(["acl", "--user", "sheafworker", "--password", "w0rker-pw"]);
  expect(await redisOf(cluster).call("ACL", "SETUSER", ...acl.stdout.trim().split(/\s+/).slice(2))).toBe("OK");
  const workerUrl = `redis://sheafworker:w0rker-pw@127.0.0.1:${cluster.port}`;
  workerUser = new Redis(workerUrl, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  queue = new Queue("tasks", { connection: { url: cluster.url }, prefix: "sheaf" });
  // No coordinator yet (the first test plants plans before one starts): the worker's calls are
  // refused until a coordinator loads its scripts, and retried.
  await cluster.worker(2, ["--redis", workerUrl, ...roots], signed);
}, 60_000);

afterAll(async () => {
  workerUser?.disconnect();
  await queue?.close();
  await cluster.stop();
  cluster.assertNoLeaks();
  s.cleanup();
});

async function state(id: string, kind = "job"): Promise<string | null> {
  return redisOf(cluster).hget(`sheaf:${kind}:${id}`, "state");
}

async function finished(id: string, kind = "job"): Promise<string> {
  await until(`${kind} ${id} finished`, async () => ["succeeded", "failed", "cancelled"].includes((await state(id, kind)) ?? ""), 60_000, 100);
  return (await state(id, kind))!;
}

async function submitSigned(args: string[]): Promise<string> {
  const r = await cluster.run(["submit", ...args], signed);
  expect(r.code, r.output).toBe(0);
  return r.stdout.trim().split("\n")[0]!;
}

/** The plan an attacker writes: the job's own config and artifact, with the secret file as its input. */
async function forgedPlan(id: string): Promise<string> {
  const spec = JSON.parse((await redisOf(cluster).hget(`sheaf:job:${id}`, "spec"))!) as { artifact: string; workdir: string; output: string; cwd: string; name: string };
  const config = {
    jobId: id,
    name: spec.name,
    artifact: basename(spec.artifact, ".mjs"),
    workdir: spec.workdir,
    params: {},
    cwd: spec.cwd,
    partitions: 1,
    output: spec.output,
    formats: { input: { format: "lines", lineNumbers: false }, output: { format: "tsv" } },
    scratch: jobScratchDir(spec.workdir, id as never),
    sortBufferBytes: 1 << 20,
    taskTimeoutMs: 60_000,
    skipBadRecords: 0,
    speculative: false,
    checkpointBytes: 1 << 20,
    checkpointMs: 10_000,
  };
  const size = readFileSync(secretFile).length;
  return JSON.stringify({ config, inputs: [{ path: secretFile, size }], maps: [{ kind: "map", taskId: "map-00000", index: 0, attempt: 0, split: { file: secretFile, start: 0, end: size } }], reduces: 1 });
}

describe("tampering with Redis, without the secret", () => {
  it("a plan planted before planning, or for a resume, is refused; the secret file is never read", async () => {
    // Submitted while no coordinator runs, so the planted plan is there first (the red team won a race for it).
    const outA = s.fresh("out-plan");
    const outB = s.fresh("out-resume");
    const fresh = await submitSigned([WORDCOUNT, "-i", input, "-o", outA, "--workdir", workdir, "-q"]);
    const resumed = await submitSigned([WORDCOUNT, "-i", input, "-o", outB, "--workdir", workdir, "-q"]);
    await redisOf(cluster).hset(`sheaf:job:${fresh}`, "plan", await forgedPlan(fresh));
    await redisOf(cluster).hset(`sheaf:job:${resumed}`, "plan", await forgedPlan(resumed), "state", "running", "prepared", "1");
    await cluster.coordinator(roots, false, signed);
    for (const [id, out] of [[fresh, outA], [resumed, outB]] as const) {
      expect(await finished(id)).toBe("failed");
      expect(await redisOf(cluster).hget(`sheaf:job:${id}`, "error")).toMatch(/stored plan of job .* refused: (unsigned|bad signature)/);
      const text = existsSync(out) ? outputText(out) : "";
      expect(text).not.toMatch(/salary|990000/);
    }
    expect(Number(await redisOf(cluster).hget("sheaf:rejected", "FORGED_PLAN"))).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it("a finished job set back to queued does not overwrite its output without --overwrite", async () => {
    const out = s.fresh("out-replay");
    const r = await cluster.run(["submit", WORDCOUNT, "-i", input, "-o", out, "--workdir", workdir, "--wait", "-q"], signed);
    expect(r.code, r.output).toBe(0);
    const id = r.stdout.trim().split("\n")[0]!;
    const before = outputText(out);
    expect(new Map(parseTsv(before).map(([w, n]) => [w!, Number(n)]))).toEqual(wordCounts(corpus));
    const firstFinish = await redisOf(cluster).hget(`sheaf:job:${id}`, "finishedAt");
    // The input changes, so a rerun that overwrote the output would show.
    writeFileSync(input, corpus + "zeta zeta zeta\n");
    try {
      await redisOf(cluster).multi().hset(`sheaf:job:${id}`, "state", "queued").zadd("sheaf:jobs:unfinished", Date.now(), id).zrem("sheaf:jobs:finished", id).publish("sheaf:events", `submitted ${id}`).exec();
      await until("the replayed job to end", async () => (await redisOf(cluster).hget(`sheaf:job:${id}`, "finishedAt")) !== firstFinish && ["failed", "succeeded"].includes((await state(id)) ?? ""), 60_000, 100);
      expect(await state(id)).toBe("failed");
      expect(await redisOf(cluster).hget(`sheaf:job:${id}`, "error")).toMatch(/_SUCCESS|--overwrite/);
      expect(outputText(out)).toBe(before);
      expect(existsSync(join(out, "_SUCCESS"))).toBe(true);
    } finally {
      writeFileSync(input, corpus);
    }
  }, 120_000);

  it("a run's spec changed after admission does not reach its later stages", async () => {
    const evil = s.write(
      "evil.ts",
      `import { writeFileSync } from "node:fs";\nimport { defineJob, lines, tsv } from "sheaf";\nwriteFileSync(${JSON.stringify(marker)}, "loaded");\n` +
        `export default defineJob({ name: "b", input: lines(), map(line: string, emit) { emit(line, 1); }, output: tsv() });\n`,
    );
    const evilArtifact = (await builtBundleJob(evil, workdir)).path;
    const pipeline = s.write(
      "two-stages.ts",
      `import { defineJob, definePipeline, lines, sum, tsv } from "sheaf";\n` +
        `const a = defineJob({ name: "a", input: lines(), setup() { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500); },\n` +
        `  map(line: string, emit) { for (const w of line.split(" ")) emit(w, 1); }, reduce: (_w, n: Iterable<number>) => sum(n), output: tsv(), partitions: 1 });\n` +
        `const b = defineJob({ name: "b", input: lines(), map(line: string, emit) { emit(line.split("\\t")[0]!, 1); }, reduce: (_w, n: Iterable<number>) => sum(n), output: tsv(), partitions: 1 });\n` +
        `export default definePipeline({ name: "two", stages: { a: { job: a, input: [${JSON.stringify(input)}], output: ${JSON.stringify(s.path("wh/a"))} }, b: { job: b, input: "a", output: ${JSON.stringify(s.path("wh/b"))} } } });\n`,
    );
    const sub = await cluster.run(["submit", pipeline, "--workdir", workdir, "-q"], signed);
    expect(sub.code, sub.output).toBe(0);
    const runId = sub.stdout.trim().split("\n")[0]!;
    await until("stage a to start", async () => /"a":\{[^}]*"jobId"/.test((await redisOf(cluster).hget(`sheaf:run:${runId}`, "stages")) ?? ""), 60_000, 50);
    const spec = JSON.parse((await redisOf(cluster).hget(`sheaf:run:${runId}`, "spec"))!);
    spec.job.artifact = evilArtifact;
    spec.artifact = evilArtifact;
    spec.artifactSha = basename(evilArtifact, ".mjs");
    await redisOf(cluster).hset(`sheaf:run:${runId}`, "spec", JSON.stringify(spec));
    expect(await finished(runId, "run")).toBe("succeeded");
    expect(existsSync(marker)).toBe(false);
    // Stage b ran the pipeline's own code: one line per distinct word of the corpus.
    const words = new Set(corpus.split(/\s+/).filter(Boolean));
    expect(new Set(parseTsv(outputText(s.path("wh/b"))).map(([w]) => w))).toEqual(words);
  }, 120_000);

  it("a due time pushed by hand into a paused schedule's queue is dropped, not fired; a signed backfill runs", async () => {
    const out = s.path("sched-out");
    const add = await cluster.run(["schedule", "add", "nightly", WORDCOUNT, "-i", input, "-o", `${out}/{time}`, "--every", "1h"], signed);
    expect(add.code, add.output).toBe(0);
    expect((await cluster.run(["schedule", "pause", "nightly"], signed)).code).toBe(0);
    const runsFor = async (due: number) => {
      const ids = await redisOf(cluster).zrange("sheaf:runs", "0", "-1");
      const specs = await Promise.all(ids.map(async (id) => JSON.parse((await redisOf(cluster).hget(`sheaf:run:${id}`, "spec")) ?? "{}")));
      return specs.filter((sp) => sp.schedule?.name === "nightly" && sp.schedule.due === due).length;
    };
    const forged = Date.UTC(2026, 0, 2, 3);
    const before = Number((await redisOf(cluster).hget("sheaf:rejected", "FORGED_SCHEDULE")) ?? 0);
    await redisOf(cluster).rpush("sheaf:schedule:nightly:queue", String(forged));
    await until("the forged due time to leave the queue", async () => (await redisOf(cluster).llen("sheaf:schedule:nightly:queue")) === 0, 30_000, 100);
    expect(await runsFor(forged)).toBe(0);
    expect(Number(await redisOf(cluster).hget("sheaf:rejected", "FORGED_SCHEDULE"))).toBe(before + 1);
    // The same queue, filled by a submitter holding the secret, runs.
    const bf = await cluster.run(["schedule", "backfill", "nightly", "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"], signed);
    expect(bf.code, bf.output).toBe(0);
    await until("the backfilled run", async () => (await runsFor(Date.UTC(2026, 0, 1))) === 1, 30_000, 100);
  }, 90_000);

  it("a signed task captured while its job ran, queued again after the job ended, is refused and never reruns", async () => {
    const marks = s.path("marks");
    mkdirSync(marks, { recursive: true });
    const out = s.fresh("out-captured");
    const sub = await cluster.run(["submit", FAULTY, "-i", input, "-o", out, "--workdir", workdir, "-q", ...params({ markDir: marks, taskMs: 600 })], signed);
    expect(sub.code, sub.output).toBe(0);
    const id = sub.stdout.trim().split("\n")[0]!;
    const queueId = `${id}.map-00000`;
    // The worker user may read the queue: it captures the signed message.
    let captured: string | null = null;
    await until("the task message", async () => (captured = await workerUser.hget(`sheaf:tasks:${queueId}`, "data")) !== null, 30_000, 20);
    const end = await finished(id);
    expect(end, String(await redisOf(cluster).hget(`sheaf:job:${id}`, "error"))).toBe("succeeded");
    const starts = markers(marks, "map-00000", "start").length;
    // It may not set the job back to running (the red team did, so the worker would take the replay)...
    await expect(workerUser.hset(`sheaf:job:${id}`, "state", "running")).rejects.toThrow(/NOPERM/);
    // ...so the replayed message is refused as a task of a job that no longer runs.
    await queue.remove(queueId).catch(() => 0);
    const before = Number((await redisOf(cluster).hget("sheaf:rejected", "REPLAYED_TASK")) ?? 0);
    expect(await deliverRaw(queue, "map", JSON.parse(captured!), queueId)).toMatch(/failed: .*REPLAYED_TASK.*is not running/);
    expect(Number(await redisOf(cluster).hget("sheaf:rejected", "REPLAYED_TASK"))).toBe(before + 1);
    expect(markers(marks, "map-00000", "start")).toHaveLength(starts);
  }, 90_000);
});
