/**
 * Signatures that workers and job code cannot make (red team, finding 8; design: asymmetric keys).
 * A cluster keyed by `sheaf keys`: the submitter holds submit.key, the coordinator coordinator.key
 * and submit.pub, the worker only coordinator.pub (and connects as the `sheaf acl` user; every
 * process has --allow-root). Then:
 * - a job submitted with the submit key runs to the oracle's output;
 * - job code on the worker, looking through its environment and the worker's key folder, finds no
 *   private key, and the worker's folder cannot sign a task or a job;
 * - a task signed with the submitter's key (not the coordinator's), and a job record signed with a
 *   shared secret, are refused and counted.
 */
import { createPrivateKey, sign } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalJson, KeySigner, TASK_SIGNATURE_TTL_MS } from "../../core/security/signing.js";
import { Cluster } from "./cluster-harness.js";
import { redisOf } from "./fault-kit.js";
import { EXAMPLE_JOBS, outputText, parseTsv, sameOutput, Scratch, wordCounts } from "./helpers.js";
import { deliverRaw } from "./raw-queue.js";

const s = new Scratch("keys");
const cluster = new Cluster(s.path("workdir"));
const made = s.path("made");
const folders = { submit: s.path("submitter"), coordinator: s.path("coordinator"), worker: s.path("worker") };
const corpus = Array.from({ length: 300 }, (_, i) => `alpha beta w${i % 17}`).join("\n") + "\n";
let input = "";
let queue: Queue;

function give(folder: string, ...files: string[]): void {
  mkdirSync(folder, { recursive: true });
  for (const f of files) {
    copyFileSync(join(made, f), join(folder, f));
    chmodSync(join(folder, f), f.endsWith(".key") ? 0o600 : 0o644);
  }
}

beforeAll(async () => {
  input = s.write("input/corpus.txt", corpus);
  const r = await cluster.run(["keys", made]);
  expect(r.code, r.output).toBe(0);
  expect(r.stdout).toMatch(/workers:\s+coordinator\.pub/);
  expect(readdirSync(made).sort()).toEqual(["coordinator.key", "coordinator.pub", "submit.key", "submit.pub"]);
  // Running it again must not replace keys every machine already holds.
  expect((await cluster.run(["keys", made])).code).not.toBe(0);
  give(folders.submit, "submit.key");
  give(folders.coordinator, "coordinator.key", "submit.pub");
  give(folders.worker, "coordinator.pub");
  await cluster.startRedis();
  queue = new Queue("tasks", { connection: { url: cluster.url }, prefix: "sheaf" });
  // As the red team's cluster: --allow-root everywhere, the worker as the `sheaf acl` user.
  const acl = await cluster.run(["acl", "--user", "sheafworker", "--password", "w0rker-pw"]);
  expect(await redisOf(cluster).call("ACL", "SETUSER", ...acl.stdout.trim().split(/\s+/).slice(2))).toBe("OK");
  const roots = ["--allow-root", s.root];
  await cluster.coordinator(roots, false, { SHEAF_KEYS: folders.coordinator });
  await cluster.worker(2, ["--redis", `redis://sheafworker:w0rker-pw@127.0.0.1:${cluster.port}`, ...roots], { SHEAF_KEYS: folders.worker });
}, 60_000);

afterAll(async () => {
  await queue?.close();
  await cluster.stop();
  cluster.assertNoLeaks();
  s.cleanup();
});

const rejected = async (code: string) => Number((await redisOf(cluster).hget("sheaf:rejected", code)) ?? 0);

describe("a cluster keyed by sheaf keys", () => {
  it("runs a job submitted with the submit key to the oracle's output", async () => {
    const out = s.fresh("out");
    const r = await cluster.run(["submit", join(EXAMPLE_JOBS, "wordcount.ts"), "-i", input, "-o", out, "--wait", "-q"], { SHEAF_KEYS: folders.submit });
    expect(r.code, r.output).toBe(0);
    expect(new Map(parseTsv(outputText(out)).map(([w, n]) => [w!, Number(n)]))).toEqual(wordCounts(corpus));
  }, 60_000);

  it("runs a pipeline: its stage jobs are signed by the coordinator's key and accepted", async () => {
    const orders = s.path("orders");
    mkdirSync(join(orders, "2026-11-28"), { recursive: true });
    copyFileSync(join(EXAMPLE_JOBS, "data/orders.csv"), join(orders, "2026-11-28", "orders.csv"));
    const wh = s.path("wh");
    const r = await cluster.run(["submit", join(EXAMPLE_JOBS, "orders-nightly.ts"), "--at", "2026-11-28", "--param", `orders=${orders}`, "--param", `warehouse=${wh}`, "--wait"], { SHEAF_KEYS: folders.submit, DATABASE_URL: "" });
    expect(r.code, r.output).toBe(0);
    const embedded = s.path("wh-embedded");
    const e = await cluster.run(["run", join(EXAMPLE_JOBS, "orders-nightly.ts"), "--at", "2026-11-28", "--param", `orders=${orders}`, "--param", `warehouse=${embedded}`, "--workdir", s.path("run-wd"), "-q"], { DATABASE_URL: "" });
    expect(e.code, e.output).toBe(0);
    for (const stage of ["clean", "daily"]) sameOutput(join(embedded, stage, "date=2026-11-28"), join(wh, stage, "date=2026-11-28"));
  }, 90_000);

  it("job code on a worker finds no private key, and the worker's folder signs nothing", async () => {
    const snoop = s.write(
      "snoop.ts",
      `import { readdirSync, readFileSync } from "node:fs";\nimport { join } from "node:path";\nimport { defineJob, lines, tsv } from "sheaf";\n` +
        `export default defineJob({ name: "snoop", input: lines(), output: tsv(), map(_line: string, emit, ctx) {\n` +
        `  const seen: string[] = Object.entries(process.env).map(([k, v]) => k + "=" + v);\n` +
        `  for (const dir of [process.env.SHEAF_KEYS, ctx.params.folder].filter(Boolean) as string[]) for (const f of readdirSync(dir)) seen.push(f + ":" + readFileSync(join(dir, f), "utf8"));\n` +
        `  emit(seen.some((x) => x.includes("PRIVATE KEY")) ? "private-key-found" : "none", 1);\n` +
        `} });\n`,
    );
    const out = s.fresh("out-snoop");
    const r = await cluster.run(["submit", snoop, "-i", input, "-o", out, "--param", `folder=${folders.worker}`, "--wait", "-q"], { SHEAF_KEYS: folders.submit });
    expect(r.code, r.output).toBe(0);
    const keys = new Set(parseTsv(outputText(out)).map(([k]) => k));
    expect(keys).toEqual(new Set(["none"]));
    const stolen = new KeySigner(folders.worker);
    expect(() => stolen.sign("task", {})).toThrow(/holds no coordinator\.key/);
    expect(() => stolen.sign("job", {})).toThrow(/holds no submit\.key or coordinator\.key/);
  }, 60_000);

  it("refuses a task signed with the submit key, and job records signed with a shared secret", async () => {
    const before = await rejected("FORGED_TASK");
    // Signed as a coordinator would sign it, but with the submitter's key.
    const task = { kind: "map", taskId: "map-00000", index: 0, attempt: 0, job: { jobId: "forged-20261206000000-aaaaaa" } };
    const expires = Date.now() + TASK_SIGNATURE_TTL_MS;
    const ed25519 = sign(null, Buffer.from(`sheaf/task/${expires}\n${canonicalJson(task)}`), createPrivateKey(readFileSync(join(folders.submit, "submit.key")))).toString("base64");
    const reason = await deliverRaw(queue, "map", { ...task, sig: { expires, ed25519 } }, "forged-20261206000000-aaaaaa.map-00000");
    expect(reason).toMatch(/failed: .*FORGED_TASK.*bad signature/);
    expect(await rejected("FORGED_TASK")).toBe(before + 1);

    const jobsBefore = await rejected("FORGED_JOB");
    const out = s.fresh("out-secret");
    const r = await cluster.run(["submit", join(EXAMPLE_JOBS, "wordcount.ts"), "-i", input, "-o", out, "--wait", "-q"], { SHEAF_SECRET: "a-shared-secret-0123456789" });
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/rejected: job record unsigned/);
    expect(await rejected("FORGED_JOB")).toBe(jobsBefore + 1);
  }, 60_000);
});
