/**
 * A batch of short tasks runs on a thread in one call (ThreadPool.runBatch): it must not fail and
 * fall back to running its tasks one by one (as it did when the thread entry lost `runTasks`).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { MapTask, TaskOutcome } from "../../core/tasks.js";
import { EXAMPLE_JOBS, REPO, Scratch, builtBundleJob } from "./helpers.js";

const s = new Scratch("thread-batch");
afterAll(() => s.cleanup());
const dist = (p: string) => import(join(REPO, "dist", p));

describe("ThreadPool.runBatch", () => {
  it("runs a batch of map tasks on one thread and returns one outcome per task", async () => {
    const [{ loadModule }, { planJob, mapTask }, { ThreadPool }] = await Promise.all([dist("core/artifact.js"), dist("engine/plan.js"), dist("worker/pool.js")]);
    const workdir = s.path("wd");
    const input = s.write("in.txt", Array.from({ length: 40 }, (_, i) => `w${i % 3}`).join("\n") + "\n");
    const artifact = await builtBundleJob(join(EXAMPLE_JOBS, "wordcount.ts"), workdir);
    const jobId = "batch";
    const settings = { jobId, name: "wordcount", artifact: artifact.sha256, workdir, params: {}, cwd: REPO, output: s.fresh(), scratch: join(workdir, "jobs", jobId), sortBufferBytes: 1 << 20 };
    const plan = await planJob(await loadModule(artifact.path), settings, { inputs: [input], splitSize: 16, partitions: 2, defaultPartitions: 2 });
    mkdirSync(settings.scratch, { recursive: true }); // the driver's part: attempts make folders only below it
    const tasks = Array.from({ length: plan.splits.length as number }, (_, i) => ({ ...(mapTask(plan, i) as MapTask), attempt: 1 }));
    expect(tasks.length).toBeGreaterThan(5);
    const pool = new ThreadPool({ threads: 1 });
    try {
      const outcomes: TaskOutcome[] | undefined = await pool.runBatch(tasks, new AbortController().signal);
      expect(outcomes?.map((o) => (o.ok ? o.result.taskId : o.failure.message))).toEqual(tasks.map((t) => t.taskId));
    } finally {
      await pool.close();
    }
  }, 60_000);
});
