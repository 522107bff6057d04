/**
 * Signed task messages and verified artifacts (design §6), on a real cluster with SHEAF_SECRET:
 * forged, altered and replayed messages written straight into the queue, and an artifact replaced
 * in the workdir, are rejected and counted, and nothing they name is loaded, read or written: the
 * hostile job module writes a marker file at top level, which must never appear.
 */
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BATCH, batchQueueId } from "../../core/cluster/task-batch.js";
import { SecretSigner, TASK_SIGNATURE_TTL_MS, type Signer } from "../../core/security/signing.js";
import { jobScratchDir } from "../../core/storage.js";
import type { MapTask } from "../../core/tasks.js";
import { Cluster } from "./cluster-harness.js";
import { deliverRaw } from "./raw-queue.js";
import { EXAMPLE_JOBS, outputText, parseTsv, Scratch, wordCounts, builtBundleJob } from "./helpers.js";


const SECRET = "test-secret-0123456789abcdef";
const signed = { SHEAF_SECRET: SECRET };
const scratch = new Scratch("signing");
const workdir = scratch.path("workdir");
const cluster = new Cluster(workdir);
const marker = scratch.path("marker");
let evilSha = "";
let corpus = "";
let input = "";
let queue: Queue;

/** A map task as a coordinator would send it, for a job that writes the marker when loaded. */
function evilTask(jobId: string, output = scratch.path("evil-out")): MapTask {
  return {
    kind: "map",
    taskId: "map-00000" as MapTask["taskId"],
    index: 0,
    attempt: 0,
    split: { file: input, start: 0, end: statSync(input).size },
    job: {
      jobId: jobId as MapTask["job"]["jobId"],
      name: "evil",
      artifact: evilSha,
      workdir,
      params: {},
      cwd: scratch.root,
      partitions: 0,
      output,
      formats: { input: { format: "lines", lineNumbers: false }, output: { format: "tsv" } },
      scratch: jobScratchDir(workdir, jobId as MapTask["job"]["jobId"]),
      sortBufferBytes: 1 << 20,
      taskTimeoutMs: 60_000,
      skipBadRecords: 0,
      speculative: false,
      checkpointBytes: 1 << 20,
      checkpointMs: 10_000,
    },
  };
}

/** Queues a raw message as the queue job `<jobId>.map-00000` (or `queueId`) and waits for a worker to fail it. */
const deliver = (data: object, queueId: string) => deliverRaw(queue, "map", data, queueId);

async function rejections(): Promise<Record<string, number>> {
  const h = await cluster.client().hgetall("sheaf:rejected");
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
}


beforeAll(async () => {
  corpus = Array.from({ length: 300 }, (_, i) => `alpha beta ${i % 7 ? "gamma" : "delta"} w${i % 13}`).join("\n") + "\n";
  input = scratch.write("input/corpus.txt", corpus);
  const evil = scratch.write(
    "evil.ts",
    `import { writeFileSync } from "node:fs";\nimport { defineJob, lines, tsv } from "sheaf";\nwriteFileSync(${JSON.stringify(marker)}, "loaded");\n` +
      `export default defineJob({ name: "evil", input: lines(), map(line: string, emit) { emit(line, 1); }, output: tsv() });\n`,
  );
  evilSha = (await builtBundleJob(evil, workdir)).sha256;
  await cluster.startRedis();
  queue = new Queue("tasks", { connection: { url: cluster.url }, prefix: "sheaf" });
  await cluster.coordinator([], false, signed);
  await cluster.worker(1, [], signed);
}, 60_000);

afterAll(async () => {
  await queue?.close();
  await cluster.stop();
  cluster.assertNoLeaks();
  scratch.cleanup();
});

describe("with SHEAF_SECRET", () => {
  it("a job submitted with the secret runs, and its output matches a plain count", async () => {
    const out = scratch.fresh();
    const r = await cluster.run(["submit", join(EXAMPLE_JOBS, "wordcount.ts"), "-i", input, "-o", out, "--wait", "-q"], signed);
    expect(r.code, r.output).toBe(0);
    const got = new Map(parseTsv(outputText(out)).map(([w, n]) => [w!, Number(n)]));
    expect(got).toEqual(wordCounts(corpus));
  }, 60_000);

  it("a job record without a valid signature is refused by the coordinator and counted", async () => {
    const out = scratch.fresh();
    const r = await cluster.run(["submit", join(EXAMPLE_JOBS, "wordcount.ts"), "-i", input, "-o", out, "--wait", "-q"]);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/rejected: job record unsigned/);
    expect(existsSync(out)).toBe(false);
    expect((await rejections()).FORGED_JOB).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it("forged, altered and replayed task messages are rejected and counted; nothing they name is loaded or written", async () => {
    const before = await rejections();
    const running = "evil-20261129000000-aaaaaa";
    // A job the coordinator is not driving, marked running so that only the signature can stop its tasks.
    await cluster.client().hset(`sheaf:job:${running}`, "state", "running");
    const right = new SecretSigner(SECRET);
    const wrong = new SecretSigner("not-the-secret-0123456789");
    const expires = Date.now() + TASK_SIGNATURE_TTL_MS;
    const sign = (s: Signer, t: MapTask) => ({ ...t, sig: s.sign("task", t, expires) });

    const unsigned = evilTask(running);
    expect(await deliver(unsigned, `${running}.map-00000`)).toMatch(/FORGED_TASK.*unsigned/);

    const otherKey = evilTask(`${running}1`);
    expect(await deliver(sign(wrong, otherKey), `${running}1.map-00000`)).toMatch(/FORGED_TASK.*bad signature/);

    // Signed right, then pointed at another output folder.
    const altered = sign(right, evilTask(`${running}2`));
    altered.job = { ...altered.job, output: scratch.path("elsewhere") };
    expect(await deliver(altered, `${running}2.map-00000`)).toMatch(/FORGED_TASK.*bad signature/);

    // A genuine signed message copied under another queue id, and one of a job that is not running.
    const genuine = sign(right, evilTask(running));
    expect(await deliver(genuine, `${running}.map-00000.copy`)).toMatch(/REPLAYED_TASK/);
    const finished = sign(right, evilTask("evil-20261129000000-finished"));
    expect(await deliver(finished, "evil-20261129000000-finished.map-00000")).toMatch(/REPLAYED_TASK.*not running/);

    // An expired signature.
    const old = { ...evilTask(`${running}3`) };
    expect(await deliver({ ...old, sig: right.sign("task", old, Date.now() - 1000) }, `${running}3.map-00000`)).toMatch(/FORGED_TASK.*expired/);

    expect(existsSync(marker)).toBe(false);
    expect(existsSync(scratch.path("evil-out"))).toBe(false);
    expect(existsSync(scratch.path("elsewhere"))).toBe(false);
    expect(existsSync(jobScratchDir(workdir, running as never))).toBe(false);
    const after = await rejections();
    expect((after.FORGED_TASK ?? 0) - (before.FORGED_TASK ?? 0)).toBe(4);
    expect((after.REPLAYED_TASK ?? 0) - (before.REPLAYED_TASK ?? 0)).toBe(2);
    const status = await cluster.run(["status"], signed);
    expect(status.stdout).toMatch(new RegExp(`refused messages and records: .*FORGED_TASK ${after.FORGED_TASK}.*REPLAYED_TASK ${after.REPLAYED_TASK}`));
  }, 90_000);

  it("a batch is signed as a whole: unsigned, one message altered, or under another id, it is refused whole", async () => {
    const before = await rejections();
    const running = "evil-20261129000000-bbbbbb";
    await cluster.client().hset(`sheaf:job:${running}`, "state", "running");
    const right = new SecretSigner(SECRET);
    const expires = Date.now() + TASK_SIGNATURE_TTL_MS;
    const task = (i: number): MapTask => ({ ...evilTask(running), taskId: `map-0000${i}` as MapTask["taskId"], index: i });
    const tasks = [0, 1, 2].map(task);
    const sig = right.sign("batch", { tasks }, expires);
    const id = batchQueueId(running, tasks);
    expect(await deliverRaw(queue, BATCH, { tasks }, id)).toMatch(/FORGED_TASK.*batch unsigned/);
    // Signed, then one message pointed at another output: the signature covers every message.
    const altered = [tasks[0], { ...tasks[1]!, job: { ...tasks[1]!.job, output: scratch.path("elsewhere") } }, tasks[2]];
    expect(await deliverRaw(queue, BATCH, { tasks: altered, sig }, `${id}.altered`)).toMatch(/FORGED_TASK.*batch bad signature/);
    // A task's own signature does not sign a batch of it.
    expect(await deliverRaw(queue, BATCH, { tasks, sig: right.sign("task", { tasks }, expires) }, `${id}.purpose`)).toMatch(/FORGED_TASK.*batch bad signature/);
    // Genuine, but not under the id its messages give it (a replay).
    expect(await deliverRaw(queue, BATCH, { tasks, sig }, `${id}.copy`)).toMatch(/REPLAYED_TASK/);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(jobScratchDir(workdir, running as never))).toBe(false);
    const after = await rejections();
    expect((after.FORGED_TASK ?? 0) - (before.FORGED_TASK ?? 0)).toBe(3);
    expect((after.REPLAYED_TASK ?? 0) - (before.REPLAYED_TASK ?? 0)).toBe(1);
  }, 60_000);

  it("an artifact replaced in the workdir after planning is refused by the worker, counted, and never imported", async () => {
    const out = scratch.fresh();
    const jobFile = scratch.write("slowish.ts", `import { defineJob, lines, tsv } from "sheaf";\nexport default defineJob({ name: "copy", input: lines(), map(line: string, emit) { emit(line, 1); }, output: tsv() });\n`);
    const artifact = await builtBundleJob(jobFile, workdir);
    // Stop the worker, so the job is planned and queued but not run before the swap.
    const worker = cluster.procs.find((p) => p.child.spawnargs.includes("worker"))!;
    worker.child.kill("SIGTERM");
    await worker.exited;
    const before = (await rejections()).BAD_ARTIFACT ?? 0;
    const sub = await cluster.run(["submit", jobFile, "-i", input, "-o", out, "--max-attempts", "1"], signed);
    expect(sub.code, sub.output).toBe(0);
    const id = sub.stdout.trim();
    for (let i = 0; i < 100 && (await cluster.client().hget(`sheaf:job:${id}`, "plan")) === null; i++) await new Promise((r) => setTimeout(r, 100));
    writeFileSync(artifact.path, `import { writeFileSync } from "node:fs"; writeFileSync(${JSON.stringify(marker)}, "loaded"); export default {};\n`);
    await cluster.worker(1, [], signed);
    let state: string | null = null;
    for (let i = 0; i < 300 && !["failed", "succeeded"].includes(state ?? ""); i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = await cluster.client().hget(`sheaf:job:${id}`, "state");
    }
    expect(state).toBe("failed");
    expect(await cluster.client().hget(`sheaf:job:${id}`, "error")).toMatch(/does not match its hash/);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(out, "_SUCCESS"))).toBe(false);
    expect(((await rejections()).BAD_ARTIFACT ?? 0) - before).toBeGreaterThanOrEqual(1);
  }, 90_000);

  it("an oversized task message is refused at once, counted, and the workers go on", async () => {
    const before = (await rejections()).BAD_MESSAGE ?? 0;
    // 64 MiB of text written into the queue (the red team's was 200 MiB: it stalled and came back forever).
    const reason = await deliver({ ...evilTask("huge-20261206000000-aaaaaa"), padding: "x".repeat(64 << 20) }, "huge-20261206000000-aaaaaa.map-00000");
    expect(reason).toMatch(/failed: .*BAD_MESSAGE.*over 16 MiB/);
    expect((await rejections()).BAD_MESSAGE).toBe(before + 1);
    await queue.remove("huge-20261206000000-aaaaaa.map-00000");
    const out = scratch.fresh();
    const r = await cluster.run(["submit", join(EXAMPLE_JOBS, "wordcount.ts"), "-i", input, "-o", out, "--wait", "-q"], signed);
    expect(r.code, r.output).toBe(0);
    expect(new Map(parseTsv(outputText(out)).map(([w, n]) => [w!, Number(n)]))).toEqual(wordCounts(corpus));
  }, 90_000);
});
