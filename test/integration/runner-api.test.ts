/**
 * The runner API (design §1c), used as a program would: a plain ES module that imports `run` and
 * `connect` from "sheaf" (the package, resolved through its `exports`), run as its own process. It
 * runs word count embedded and the same job on a cluster (identical outputs, both equal to a plain
 * count here), follows a submitted job to its end, cancels one, and catches a failed job's error
 * with its code; a bad option is refused naming the field.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "./cluster-harness.js";
import { expectOracle, wordcountOracle, writeCorpus } from "./fault-kit.js";
import { EXAMPLE_JOBS, FIXTURE_JOBS, REPO, sameOutput, Scratch } from "./helpers.js";

const s = new Scratch("runner-api");
const cluster = new Cluster(s.path("cluster-wd"));
let files: string[] = [];

beforeAll(async () => {
  files = writeCorpus(s, "in", 3, 5_000, 30, 4);
  // As an installed package: <program's folder>/node_modules/sheaf → this repository.
  mkdirSync(s.path("program", "node_modules"), { recursive: true });
  symlinkSync(REPO, s.path("program", "node_modules", "sheaf"));
  await cluster.startRedis();
  await cluster.coordinator();
  await cluster.worker(2);
});
afterAll(async () => {
  await cluster.stop();
  cluster.assertNoLeaks();
  s.cleanup();
});

const PROGRAM = `
import { run, connect } from "sheaf";
import { pathToFileURL } from "node:url";

const [wordcount, slow, boom, files, embeddedOut, clusterOut, workdir, bad] = JSON.parse(process.argv[2]);
const said = {};
const codeOf = async (p) => p.then(() => "resolved", (err) => err.code);

const report = await run(wordcount, { input: files, output: embeddedOut, threads: 2, workdir });
said.embedded = { recordsIn: report.recordsIn, parts: report.partFiles ?? null };
said.badOption = await codeOf(run(wordcount, { input: files, output: embeddedOut, thread: 2 }).catch((e) => { said.badOptionMessage = e.message; throw e; }));

const cluster = await connect({ redis: process.env.SHEAF_REDIS_URL });
const job = await cluster.submit(wordcount, { input: files, output: clusterOut, workdir });
said.id = job.id;
const done = await job.done;
said.cluster = { recordsIn: done.recordsIn, state: (await job.status()).state };

const held = await cluster.submit(slow, { input: files, output: clusterOut + "-slow", workdir, params: { ms: "30000" } });
await new Promise((r) => setTimeout(r, 1500));
await held.cancel();
said.cancelled = await codeOf(held.done);

const failing = await cluster.submit(boom, { input: files, output: clusterOut + "-boom", workdir, params: { fail: "map", bad }, maxAttempts: 1 });
said.failed = await codeOf(failing.done);
said.latest = (await cluster.status(5)).jobs.map((j) => j.state);

// Schedules: added from a file URL, a run comes due and succeeds, paused, resumed, removed.
const added = await cluster.schedules.add("api-every", pathToFileURL(wordcount), { every: "2s", input: files, output: clusterOut + "-scheduled", workdir });
said.scheduleAdded = { name: added.name, everyMs: added.everyMs };
let ran;
for (let i = 0; i < 300 && !ran; i++) {
  await new Promise((r) => setTimeout(r, 100));
  ran = (await cluster.schedules.list()).find((s) => s.spec.name === "api-every")?.history.find((e) => e.outcome === "succeeded");
}
said.scheduleRan = ran?.outcome ?? "no run succeeded in 30 s";
await cluster.schedules.pause("api-every");
said.schedulePaused = (await cluster.schedules.list()).find((s) => s.spec.name === "api-every")?.state;
await cluster.schedules.resume("api-every");
await cluster.schedules.remove("api-every");
said.scheduleRemoved = (await cluster.schedules.list()).some((s) => s.spec.name === "api-every") ? "still listed" : "gone";
await cluster.close();
console.log(JSON.stringify(said));
`;

describe("the runner API from a program", () => {
  it("runs a job embedded and on a cluster with identical outputs, follows, cancels, catches a failure by code, and keeps a schedule", () => {
    const program = s.write("program/main.mjs", PROGRAM);
    const slow = s.write("program/slow.ts", `import { defineJob, lines, tsv } from "sheaf";
export default defineJob({ name: "slow", input: lines(), setup(ctx) { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(ctx.params.ms)); }, map(l: string, emit) { emit(l, 1); }, output: tsv() });
`);
    const embeddedOut = s.path("out-embedded");
    const clusterOut = s.path("out-cluster");
    const bad = readFileSync(files[0]!, "utf8").split("\n")[0]; // boom's map throws on this line
    const args = [join(EXAMPLE_JOBS, "wordcount.ts"), slow, join(FIXTURE_JOBS, "boom.ts"), files, embeddedOut, clusterOut, cluster.workdir, bad];
    const r = spawnSync(process.execPath, [program, JSON.stringify(args)], { cwd: s.path("program"), encoding: "utf8", env: { ...process.env, SHEAF_REDIS_URL: cluster.url }, timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const said = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expectOracle(embeddedOut, wordcountOracle(files));
    expectOracle(clusterOut, wordcountOracle(files));
    sameOutput(embeddedOut, clusterOut);
    expect(said.cluster).toEqual({ recordsIn: said.embedded.recordsIn, state: "succeeded" });
    expect(said.badOption).toBe("BAD_OPTION");
    expect(said.badOptionMessage).toContain("run(): option thread:");
    expect(said.cancelled).toBe("JOB_CANCELLED");
    expect(said.failed).toBe("JOB_FAILED");
    expect(said.latest.slice(0, 3)).toEqual(["failed", "cancelled", "succeeded"]);
    expect(said.scheduleAdded).toEqual({ name: "api-every", everyMs: 2000 });
    expect(said.scheduleRan).toBe("succeeded");
    expectOracle(clusterOut + "-scheduled", wordcountOracle(files));
    expect(said.schedulePaused).toBe("paused");
    expect(said.scheduleRemoved).toBe("gone");
  }, 150_000);
});
