/**
 * Allowed roots (design §6): with `--allow-root`, every input, output and workdir must resolve inside
 * a root, so `..`, an absolute path and a symlink cannot lead out, on `sheaf run` and on a cluster,
 * where paths and ids arriving from Redis are checked before use.
 */
import { existsSync, mkdirSync, readdirSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BATCH, batchQueueId } from "../../core/cluster/task-batch.js";
import { OPEN_CLUSTER_WARNING } from "../../core/security/signing.js";
import { jobScratchDir } from "../../core/storage.js";
import type { MapTask, ReduceTask } from "../../core/tasks.js";
import { Cluster } from "./cluster-harness.js";
import { deliverRaw } from "./raw-queue.js";
import { EXAMPLE_JOBS, outputText, parseTsv, runCli, Scratch, wordCounts, builtBundleJob } from "./helpers.js";

const WORDCOUNT = join(EXAMPLE_JOBS, "wordcount.ts");
const scratch = new Scratch("paths");
const root = scratch.path("root");
const outside = scratch.path("outside");
const marker = scratch.path("marker");
let corpus = "";


beforeAll(() => {
  corpus = Array.from({ length: 200 }, (_, i) => `one two w${i % 11}`).join("\n") + "\n";
  scratch.write("root/data/corpus.txt", corpus);
  scratch.write("outside/secret.txt", "secret words\n");
  mkdirSync(join(outside, "dir"), { recursive: true });
  mkdirSync(join(root, "linked"), { recursive: true });
  symlinkSync(join(outside, "secret.txt"), join(root, "linked", "secret.txt"));
  symlinkSync(join(outside, "dir"), join(root, "outlink"));
});

afterAll(() => scratch.cleanup());

describe("sheaf run --allow-root", () => {
  const run = (input: string, output: string, extra: string[] = [], workdir = join(root, "wd")) =>
    runCli(["run", WORDCOUNT, "-i", input, "-o", output, "--workdir", workdir, "-q", "--allow-root", root, ...extra]);

  it("runs a job whose paths are all inside the root", () => {
    const out = join(root, "out-ok");
    const r = run(join(root, "data"), out);
    expect(r.status, r.stderr).toBe(0);
    expect(new Map(parseTsv(outputText(out)).map(([w, n]) => [w!, Number(n)]))).toEqual(wordCounts(corpus));
  });

  it.each([
    ["an input through ..", () => join(root, "..", "outside", "secret.txt"), "input"],
    ["an absolute input outside", () => join(outside, "secret.txt"), "input"],
    ["a folder holding a symlink that leads out", () => join(root, "linked"), "input"],
  ])("refuses %s with a clear error, writing nothing", (_name, input, what) => {
    const out = join(root, `out-${what}-${Math.random().toString(36).slice(2)}`);
    const r = run(input(), out);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^sheaf: ${what} \\S+ is outside the allowed roots \\(${root}\\)\\n$`));
    expect(existsSync(out)).toBe(false);
  });

  it("refuses an output through a symlink, and a workdir outside", () => {
    const r1 = run(join(root, "data"), join(root, "outlink", "out"));
    expect(r1.status).toBe(1);
    expect(r1.stderr).toMatch(/output \S+ is outside the allowed roots/);
    expect(readdirSync(join(outside, "dir"))).toEqual([]);
    const r2 = run(join(root, "data"), join(root, "out-wd"), [], join(outside, "wd"));
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/workdir \S+ is outside the allowed roots/);
    expect(existsSync(join(outside, "wd"))).toBe(false);
  });

  it("takes the roots from SHEAF_ALLOW_ROOTS too", () => {
    process.env.SHEAF_ALLOW_ROOTS = root;
    try {
      const r = runCli(["run", WORDCOUNT, "-i", join(outside, "secret.txt"), "-o", join(root, "out-env"), "--workdir", join(root, "wd"), "-q"]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/input \S+ is outside the allowed roots/);
    } finally {
      delete process.env.SHEAF_ALLOW_ROOTS;
    }
  });
});

describe("a cluster confined to a root", () => {
  const workdir = join(root, "cluster-wd");
  const cluster = new Cluster(workdir);
  let queue: Queue;
  let evilSha = "";

  beforeAll(async () => {
    const evil = scratch.write(
      "root/evil.ts",
      `import { writeFileSync } from "node:fs";\nimport { defineJob, lines, tsv } from "sheaf";\nwriteFileSync(${JSON.stringify(marker)}, "loaded");\n` +
        `export default defineJob({ name: "evil", input: lines(), map(line: string, emit) { emit(line, 1); }, reduce: (k: string) => 1, output: tsv() });\n`,
    );
    evilSha = (await builtBundleJob(evil, workdir)).sha256;
    await cluster.startRedis();
    queue = new Queue("tasks", { connection: { url: cluster.url }, prefix: "sheaf" });
    await cluster.coordinator(["--allow-root", root]);
    await cluster.worker(1, ["--allow-root", root]);
  }, 60_000);

  afterAll(async () => {
    await queue?.close();
    await cluster.stop();
    cluster.assertNoLeaks();
  });

  function config(jobId: string): MapTask["job"] {
    return {
      jobId: jobId as MapTask["job"]["jobId"], name: "evil", artifact: evilSha, workdir, params: {}, cwd: root, partitions: 1, output: join(root, "evil-out"),
      formats: { input: { format: "lines", lineNumbers: false }, output: { format: "tsv" } },
      scratch: jobScratchDir(workdir, jobId as MapTask["job"]["jobId"]),
      sortBufferBytes: 1 << 20, taskTimeoutMs: 60_000, skipBadRecords: 0, speculative: false, checkpointBytes: 1 << 20, checkpointMs: 10_000,
    };
  }

  const deliver = (data: MapTask | ReduceTask, queueId: string) => deliverRaw(queue, data.kind, data, queueId);

  it("prints the open-cluster warning once at start", () => {
    for (const p of cluster.procs) expect(p.output().split(OPEN_CLUSTER_WARNING).length - 1).toBe(1);
  });

  it("workers refuse tasks whose input or map outputs lie outside the root or the job's scratch, and count them", async () => {
    const secret = join(outside, "secret.txt");
    const map: MapTask = { kind: "map", taskId: "map-00000" as MapTask["taskId"], index: 0, attempt: 0, split: { file: secret, start: 0, end: statSync(secret).size }, job: config("evil-1") };
    expect(await deliver(map, "evil-1.map-00000")).toMatch(/PATH_NOT_ALLOWED.*input .*secret\.txt is outside the allowed roots/);
    const viaDots: MapTask = { ...map, split: { ...map.split, file: "../outside/secret.txt" }, job: config("evil-2") };
    expect(await deliver(viaDots, "evil-2.map-00000")).toMatch(/PATH_NOT_ALLOWED/);
    const escaping = config("evil-3");
    const reduce: ReduceTask = {
      kind: "reduce", taskId: "reduce-00000" as ReduceTask["taskId"], index: 0, attempt: 0, job: escaping,
      inputs: { path: join(escaping.scratch, "..", "..", "..", "..", "outside", "secret.txt"), maps: 1, crc: 0 },
    };
    expect(await deliver(reduce, "evil-3.reduce-00000")).toMatch(/PATH_NOT_ALLOWED.*list of map outputs/);
    const badId = { ...map, job: { ...config("evil-4"), jobId: "../../evil" } } as MapTask;
    expect(await deliver(badId, "evil-4.map-00000")).toMatch(/BAD_MESSAGE.*jobId/);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(root, "evil-out"))).toBe(false);
    expect(Number(await cluster.client().hget("sheaf:rejected", "PATH_NOT_ALLOWED"))).toBe(3);
  }, 60_000);

  it("a batch that gives its job config once is checked as if each message carried it", async () => {
    const before = Number((await cluster.client().hget("sheaf:rejected", "PATH_NOT_ALLOWED")) ?? 0);
    const inside = join(root, "data", "corpus.txt");
    const secret = join(outside, "secret.txt");
    const fields = (i: number, file = inside) => ({ kind: "map" as const, taskId: `map-0000${i}` as MapTask["taskId"], index: i, attempt: 0, split: { file, start: 0, end: statSync(file).size } });
    const batch = (jobId: string, job: unknown, tasks: object[]) => deliverRaw(queue, BATCH, { job, tasks }, batchQueueId(jobId, tasks as MapTask[]));
    // The shared config's output outside the root; then a malformed shared config.
    expect(await batch("evil-5", { ...config("evil-5"), output: join(outside, "out") }, [fields(0), fields(1)])).toMatch(/PATH_NOT_ALLOWED.*output/);
    expect(await batch("evil-6", { ...config("evil-6"), workdir: "relative" }, [fields(0), fields(1)])).toMatch(/BAD_MESSAGE.*workdir/);
    // A sound shared config, but one message's input outside the root.
    expect(await batch("evil-7", config("evil-7"), [fields(0), fields(1, secret)])).toMatch(/PATH_NOT_ALLOWED.*secret\.txt/);
    // A message carrying a config of its own (outside the root) is checked whole, not as the batch's.
    const own = { ...fields(1), job: { ...config("evil-8"), output: join(outside, "own") } };
    expect(await batch("evil-8", config("evil-8"), [fields(0), own])).toMatch(/PATH_NOT_ALLOWED.*output/);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(outside, "out"))).toBe(false);
    expect(existsSync(join(outside, "own"))).toBe(false);
    expect(Number(await cluster.client().hget("sheaf:rejected", "PATH_NOT_ALLOWED")) - before).toBe(3);
  }, 60_000);

  it("the coordinator refuses a job whose output is outside its roots, and a record with a path-like id", async () => {
    const out = join(outside, "cluster-out");
    // The submitter is not confined; the coordinator is.
    const r = await cluster.run(["submit", WORDCOUNT, "-i", join(root, "data"), "-o", out, "--wait", "-q"]);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/rejected: job wordcount: output \S+ is outside the allowed roots/);
    expect(existsSync(out)).toBe(false);

    const redis = cluster.client();
    const id = "../../escape";
    const spec = { id, name: "wordcount", artifact: join(workdir, "artifacts", `${evilSha}.mjs`), workdir, inputs: [join(root, "data")], output: join(root, "esc-out"), cwd: root, params: {}, splitSize: 1 << 20, sortBufferBytes: 1 << 20, maxAttempts: 1, overwrite: false, submittedAt: Date.now() };
    await redis.multi().hset(`sheaf:job:${id}`, { spec: JSON.stringify(spec), state: "queued" }).zadd("sheaf:jobs", Date.now(), id).zadd("sheaf:jobs:unfinished", Date.now(), id).publish("sheaf:events", `submitted ${id}`).exec();
    let state: string | null = null;
    for (let i = 0; i < 100 && state !== "failed"; i++) {
      await new Promise((res) => setTimeout(res, 100));
      state = await redis.hget(`sheaf:job:${id}`, "state");
    }
    expect(state).toBe("failed");
    expect(await redis.hget(`sheaf:job:${id}`, "error")).toMatch(/job record is malformed \(id: /);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(root, "esc-out"))).toBe(false);
  }, 60_000);
});
