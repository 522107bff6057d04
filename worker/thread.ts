/** The piscina thread entry: load the job artifact, run one task (or several short ones), return plain results (errors as data). */
import { threadId } from "node:worker_threads";
import { isPipeline } from "../core/api/pipeline.js";
import { loadArtifact, loadTaskJob } from "../core/artifact.js";
import { awaitParquetWasmModule, handParquetWasmModule } from "../core/formats/parquet-wasm.js";
import { loadFormats } from "../core/formats/registry.js";
import { Schemas } from "../core/security/messages.js";
import { toFailure } from "../core/task-failure.js";
import type { Task, TaskOutcome, ThreadOutcome } from "../core/tasks.js";
import { beginCapture, endCapture } from "./console-capture.js";
import { runMapTask } from "./map-task.js";
import { runReduceTask } from "./reduce-task.js";

export default async function runTask(task: Task): Promise<ThreadOutcome> {
  const startedAt = Date.now();
  beginCapture(task);
  const outcome = await attempt(task);
  return { ...outcome, run: { startedAt, endedAt: Date.now(), threadId, printed: endCapture() } };
}

async function attempt(task: Task): Promise<TaskOutcome> {
  try {
    const job = await loadTaskJob(task.job.workdir, task.job.artifact, task.job.name, task.job.stage);
    const result = task.kind === "map" ? await runMapTask(task, job) : await runReduceTask(task, job);
    return { ok: true, result };
  } catch (err) {
    return { ok: false, failure: toFailure(err, task) };
  }
}

/** Short tasks of one batch, one after another: one message to the thread and one back for them all. */
export async function runTasks(tasks: Task[]): Promise<ThreadOutcome[]> {
  const outcomes: ThreadOutcome[] = [];
  for (const task of tasks) outcomes.push(await runTask(task));
  return outcomes;
}

/**
 * What the pool tells its threads before the first task of a job: what to load in the meantime; then,
 * if it said the Parquet wasm module is coming, the module (null: compile your own).
 */
export type Prepare = { workdir: string; artifact: string; label: string; parquetWasm?: "coming" } | { parquetWasm: WebAssembly.Module | null };

/**
 * Imports the job's artifact (verified as a task's would be) and its formats' modules, so that the
 * first task finds them loaded. Errors are left to the tasks, which meet them again and report them.
 */
export async function prepare(p: Prepare): Promise<void> {
  if (!("artifact" in p)) return handParquetWasmModule(p.parquetWasm ?? undefined);
  if (p.parquetWasm === "coming") awaitParquetWasmModule();
  const mod = await loadArtifact(p.workdir, p.artifact, p.label);
  const jobs = isPipeline(mod) ? mod.stages.map((s) => s.job) : [mod];
  // A reduce task checks its list of map outputs (with valibot, loaded on first use): loaded now too.
  if (jobs.some((j) => j.reduce)) void Schemas.mapOutputRefs;
  await Promise.all(jobs.map((j) => loadFormats(j.input, j.output)));
}
