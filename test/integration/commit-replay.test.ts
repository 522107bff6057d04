/**
 * First-wins commits when the winner is reported twice. A coordinator that resumes a job re-adds its
 * uncommitted tasks, and takes the result of a queue entry that had already finished; meanwhile the
 * commit of that very result, sent before a Redis outage, can land after the new driver loaded the
 * committed set. Its store then says "not won", yet the committed result is this one: the driver
 * must keep its files, not discard them as a loser's (the job commit then failed with ENOENT).
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { TaskExecutor } from "../../core/executor.js";
import type { TaskId } from "../../core/ids.js";
import type { Task, TaskOutcome, TaskResult } from "../../core/tasks.js";
import { outputText, REPO, Scratch, textLines, builtBundleJob } from "./helpers.js";

const s = new Scratch("commit-replay");
afterAll(() => s.cleanup());
const dist = (p: string) => import(join(REPO, "dist", p));

describe("a result committed before the driver knew it", () => {
  it.each([["map-only (parts)", 0], ["with reduces (map outputs)", 2]])("keeps the winner's files when its own commit reports 'not won': %s", async (_label, partitions) => {
    const [{ loadModule }, { planJob }, { JobDriver }, { ThreadPool }, { MemoryJobStore }] = await Promise.all([
      dist("core/artifact.js"), dist("engine/plan.js"), dist("engine/driver.js"), dist("worker/pool.js"), dist("engine/job-store.js"),
    ]);
    const lines = Array.from({ length: 400 }, (_, i) => `line ${i} ${i % 7}`);
    const input = s.write(`in-${partitions}.txt`, lines.join("\n") + "\n");
    const jobFile = s.write(
      `copy-${partitions}.ts`,
      partitions
        ? `import { defineJob, lines, tsv } from "sheaf";\nexport default defineJob({ name: "copy", input: lines(), map(line: string, emit) { emit(line, 1); }, reduce: (k: string) => 1, output: tsv() });\n`
        : `import { defineJob, lines, tsv } from "sheaf";\nexport default defineJob({ name: "copy", input: lines(), map(line: string, emit) { emit(line); }, output: tsv() });\n`,
    );
    const workdir = s.path("wd");
    const artifact = await builtBundleJob(jobFile, workdir);
    const jobId = `replay-${partitions}`;
    const output = s.fresh();
    const plan = await planJob(await loadModule(artifact.path), { jobId, name: "copy", artifact: artifact.sha256, workdir, params: {}, cwd: REPO, output, scratch: join(workdir, "jobs", jobId), sortBufferBytes: 1 << 20 }, { inputs: [input], splitSize: 512, partitions: partitions || undefined, defaultPartitions: partitions });
    expect(plan.splits.length).toBeGreaterThan(2);

    // Task map-00001's result is committed by its first report, which the store answers "not won":
    // as if the same result's earlier commit had just landed.
    const replayed = "map-00001" as TaskId;
    class LateCommitStore extends MemoryJobStore {
      async commit(result: TaskResult): Promise<boolean> {
        const won = await super.commit(result);
        return result.taskId === replayed ? false : won;
      }
    }
    const pool = new ThreadPool({ threads: 2 });
    const executor: TaskExecutor = { concurrency: 2, run: (task: Task, signal, onStart): Promise<TaskOutcome> => pool.run(task, signal, onStart), close: async () => {} };
    try {
      await new JobDriver(plan, executor, { store: new LateCommitStore(), retry: { maxAttempts: 1, backoffMs: 10 } }).run();
    } finally {
      await pool.close();
    }
    // The oracle: every input line once (map-only, in split order; with reduces, sorted and counted once each).
    const out = textLines(outputText(output));
    if (partitions) expect(out.map((l) => l.split("\t")[0]).sort()).toEqual([...lines].sort());
    else expect(out).toEqual(lines);
  }, 60_000);
});
