/**
 * Job modules whose top-level code is hostile (it calls process.exit, or loops forever) must not
 * take the coordinator down or hang it: it plans each job off its main thread, with a time limit,
 * and fails that job alone. `sheaf submit` would refuse such a module itself (it loads it to check
 * it), so the test bundles each one and writes its job record straight into Redis, as a submitter
 * that skipped the check would.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readJob, submitJob, type JobRecord } from "../../core/cluster/jobs.js";
import { Keys } from "../../core/cluster/keys.js";
import { newJobId, type JobId } from "../../core/ids.js";
import { Cluster } from "./cluster-harness.js";
import { EXAMPLE_JOBS, FIXTURE_JOBS, outputText, parseTsv, REPO, Scratch } from "./helpers.js";

const PLAN_TIMEOUT_MS = 3000;

const scratch = new Scratch("hostile");
const cluster = new Cluster(scratch.path("workdir"));
const keys = new Keys("sheaf");
let input = "";

beforeAll(async () => {
  input = scratch.write("input/words.txt", "b a\na c\n");
  await cluster.startRedis();
});

afterAll(async () => {
  await cluster.stop();
  cluster.assertNoLeaks();
  scratch.cleanup();
});

/**
 * The built bundler, as the CLI runs it: from the sources, `import "sheaf"` would resolve to
 * core/api/index.js, which only the build writes.
 */
const { bundleJob } = (await import(pathToFileURL(join(REPO, "dist/runner/bundle.js")).href)) as typeof import("../../runner/bundle.js");

/** Bundles a job file into the cluster's workdir and queues its job record, skipping submit's checks. */
async function queueUnchecked(file: string, name: string): Promise<JobId> {
  const artifact = await bundleJob(file, cluster.workdir);
  const id = newJobId(name);
  await submitJob(cluster.client(), keys, {
    id,
    name,
    artifact: artifact.path,
    workdir: cluster.workdir,
    inputs: [input],
    output: scratch.fresh(name),
    cwd: REPO,
    params: {},
    splitSize: 64 << 20,
    sortBufferBytes: 16 << 20,
    maxAttempts: 1,
    overwrite: false,
    submittedAt: Date.now(),
  });
  return id;
}

async function finished(id: JobId, timeoutMs: number): Promise<JobRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = await readJob(cluster.client(), keys, id);
    if (record && ["succeeded", "failed", "cancelled"].includes(record.state)) return record;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${record?.state} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("a job module with hostile top-level code", () => {
  it("fails that job alone: the coordinator lives on and runs the next job", async () => {
    const coordinator = await cluster.coordinator(["--plan-timeout", String(PLAN_TIMEOUT_MS)]);
    await cluster.worker(1);

    const started = Date.now();
    const exits = await queueUnchecked(join(FIXTURE_JOBS, "exits-on-load.ts"), "exits-on-load");
    const loops = await queueUnchecked(join(FIXTURE_JOBS, "loops-on-load.ts"), "loops-on-load");

    const exited = await finished(exits, 20_000);
    expect(exited.state, coordinator.output()).toBe("failed");
    expect(exited.error).toBe("job exits-on-load: its module called process.exit(7) while being planned");

    const looped = await finished(loops, 20_000);
    expect(looped.state, coordinator.output()).toBe("failed");
    expect(looped.error).toBe(`job loops-on-load: planning did not finish within ${PLAN_TIMEOUT_MS} ms (--plan-timeout); its thread was stopped`);
    // Failed by the time limit, not sooner, and not long after it.
    expect(Date.now() - started).toBeGreaterThanOrEqual(PLAN_TIMEOUT_MS);
    expect(Date.now() - started).toBeLessThan(PLAN_TIMEOUT_MS + 10_000);

    // The same coordinator process, still leading: a normal job submitted now succeeds.
    expect(coordinator.child.exitCode).toBeNull();
    expect(coordinator.child.signalCode).toBeNull();
    const out = scratch.fresh("wordcount");
    const ok = await cluster.run(["submit", join(EXAMPLE_JOBS, "wordcount.ts"), "--input", input, "--output", out, "--wait", "--quiet"]);
    expect(ok.code, ok.output + coordinator.output()).toBe(0);
    expect(parseTsv(outputText(out)).sort()).toEqual([["a", "2"], ["b", "1"], ["c", "1"]]);
    expect(coordinator.output()).not.toMatch(/leader \(epoch \d+\)[\s\S]*leader \(epoch/); // never lost and retook the lease
  });
});
