/** The piscina thread entry: load the job artifact, run one task (or several short ones), return plain results (errors as data). */
import { threadId } from "node:worker_threads";
import { loadTaskJob } from "../core/artifact.js";
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
