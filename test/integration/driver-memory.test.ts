/**
 * The driver's memory grows with its window, not with the job: at three quarters of a job of 12,000
 * one-byte splits, the heap holds a few thousand map task and split objects (the window's), where
 * it held every one of the plan's. Counted in a heap snapshot, which collects garbage first:
 * objects retained, not timing or RSS, so the count does not depend on the machine's load.
 * (bench/coordinator-memory.mjs measures the coordinator's RSS.)
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeHeapSnapshot } from "node:v8";
import { afterAll, describe, expect, it } from "vitest";
import type { TaskExecutor } from "../../core/executor.js";
import type { JobProgress } from "../../core/progress.js";
import type { Task, TaskOutcome } from "../../core/tasks.js";
import { REPO, Scratch, builtBundleJob } from "./helpers.js";

const s = new Scratch("driver-memory");
afterAll(() => s.cleanup());
const dist = (p: string) => import(join(REPO, "dist", p));
const TASKS = 12_000;

/** Objects in a heap snapshot by the names of their properties: task objects, and splits. */
function countShapes(file: string): { tasks: number; splits: number } {
  const snap = JSON.parse(readFileSync(file, "utf8")) as { snapshot: { meta: Record<string, unknown[]> }; nodes: number[]; edges: number[]; strings: string[] };
  const { node_fields: nf, edge_fields: ef, node_types: nt, edge_types: et } = snap.snapshot.meta as { node_fields: string[]; edge_fields: string[]; node_types: string[][]; edge_types: string[][] };
  const [type, edgeCount] = [nf.indexOf("type"), nf.indexOf("edge_count")];
  const [edgeType, edgeName] = [ef.indexOf("type"), ef.indexOf("name_or_index")];
  const object = nt[0]!.indexOf("object");
  const property = et[0]!.indexOf("property");
  let tasks = 0;
  let splits = 0;
  for (let n = 0, e = 0; n < snap.nodes.length; n += nf.length) {
    const names = new Set<string>();
    const edges = snap.nodes[n + edgeCount]!;
    for (let k = 0; k < edges; k++, e += ef.length) if (snap.edges[e + edgeType] === property) names.add(snap.strings[snap.edges[e + edgeName]!]!);
    if (snap.nodes[n + type] !== object) continue;
    if (names.has("taskId") && names.has("split")) tasks++;
    // A split's start and end are small integers, which a snapshot keeps in the object (no edge).
    else if (names.has("file") && [...names].every((name) => name === "file" || name === "__proto__")) splits++;
  }
  return { tasks, splits };
}

describe("the driver's memory", () => {
  it(`holds the window's map tasks and splits, not the job's, at three quarters of ${TASKS} tasks`, async () => {
    const [{ loadModule }, { planJob }, { JobDriver }, { ThreadPool }] = await Promise.all([
      dist("core/artifact.js"), dist("engine/plan.js"), dist("engine/driver.js"), dist("worker/pool.js"),
    ]);
    const workdir = s.path("wd");
    const artifact = await builtBundleJob(join(REPO, "bench/jobs/empty.ts"), workdir);
    const input = s.write("in/lines.txt", "\n".repeat(TASKS)); // one-byte splits: one task per line
    const jobId = "mem-1";
    const plan = await planJob(await loadModule(artifact.path), { jobId, name: "empty", artifact: artifact.sha256, workdir, params: {}, cwd: REPO, output: s.fresh(), scratch: join(workdir, "jobs", jobId), sortBufferBytes: 1 << 20 }, { inputs: [input], splitSize: 1, partitions: 1, defaultPartitions: 1 });
    expect(plan.splits.length).toBe(TASKS);
    const pool = new ThreadPool({ threads: 2 });
    const executor: TaskExecutor = { concurrency: 2, run: (task: Task, signal, onStart): Promise<TaskOutcome> => pool.run(task, signal, onStart), close: async () => {} };
    let snapshot: string | undefined;
    const onProgress = (p: JobProgress) => {
      if (snapshot === undefined && p.mapsDone >= (TASKS * 3) / 4) snapshot = writeHeapSnapshot(s.path("at-three-quarters.heapsnapshot"));
    };
    try {
      const report = await new JobDriver(plan, executor, { onProgress, retry: { maxAttempts: 1, backoffMs: 10 } }).run();
      expect(report.mapsDone).toBe(TASKS);
    } finally {
      await pool.close();
    }
    expect(snapshot).toBeDefined();
    const held = countShapes(snapshot!);
    // The window is 2,048 lanes, each holding its task and the run made of it (~4,100); the plan
    // held all 12,000 of each, for the job's life. Half the job is the bound.
    expect(held.tasks, JSON.stringify(held)).toBeLessThan(TASKS / 2);
    expect(held.splits, JSON.stringify(held)).toBeLessThan(TASKS / 2);
  }, 180_000);
});
