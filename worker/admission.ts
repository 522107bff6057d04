/**
 * What a worker checks before it reads a file or loads code for a task message: its signature (with
 * `SHEAF_SECRET`), its shape, that it sits under the queue id its job and task give it (a signed
 * message copied under another id is a replay), the paths it names (inside the allowed roots and
 * the job's own layout), and, when signed, that its job is still running.
 */
import type { Redis } from "ioredis";
import { Keys } from "../core/cluster/keys.js";
import { readField } from "../core/cluster/state/fields.js";
import { batchMessages, batchQueueId, type TaskBatch } from "../core/cluster/task-batch.js";
import { messageOf, SheafError } from "../core/errors.js";
import { checkJobConfig, checkTask, checkTaskFiles } from "../core/security/confine.js";
import { checkMessage, Schemas } from "../core/security/messages.js";
import { countRejection, Rejected } from "../core/security/rejections.js";
import type { AllowedRoots } from "../core/security/roots.js";
import type { Signature, Signer } from "../core/security/signing.js";
import type { JobConfig, Task } from "../core/tasks.js";

/** How long a job seen running is trusted to still run (cancel and finish events clear it sooner). */
const LIVE_FOR_MS = 2_000;
/** The most task messages a batch may carry (the coordinator sends at most 256). */
const MAX_BATCH = 1024;
/**
 * The most text a task message (or batch) may hold. A coordinator's are tens of kilobytes; a 200 MiB
 * one written by hand took each worker to ~950 MB, and checking it outlasted its lock, so it stalled
 * and came back forever. Refused before its signature is even computed.
 */
const MAX_MESSAGE_CHARS = 16 << 20;

export class TaskAdmission {
  private readonly live = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly signer: Signer | undefined,
    private readonly roots: AllowedRoots,
    private readonly log: (m: string) => void,
  ) {}

  /** The job ended: its tasks are refused from now on. */
  ended(jobId: string): void {
    this.live.delete(jobId);
  }

  /** The task the message carries; otherwise throws Rejected, logged with the queue id and counted. */
  admit(queueId: string, data: unknown): Promise<Task> {
    return this.guarded(queueId, () => {
      checkSize(data);
      return this.check(data, (task) => queueId === Keys.taskJobId(task.job.jobId, task.taskId, task.runId));
    });
  }

  /**
   * The tasks a batch carries, each message checked as one alone would be, and the batch's queue id
   * checked against them; one refused message refuses the whole batch (it was tampered with).
   */
  admitBatch(queueId: string, data: unknown): Promise<Task[]> {
    return this.guarded(queueId, async () => {
      checkSize(data);
      const batch = data as TaskBatch | null;
      const messages = Array.isArray(batch?.tasks) ? batchMessages(batch) : undefined;
      if (!batch || !Array.isArray(messages) || messages.length < 2 || messages.length > MAX_BATCH) throw new Rejected("BAD_MESSAGE", "a batch must carry 2 to 1024 task messages");
      // The job config the batch gives once is checked once (after the first signature over it
      // holds: nothing a message names is looked at before); each message's own fields, each.
      let config: JobConfig | undefined;
      const shared = batch.job === undefined ? undefined : { job: batch.job, check: () => (config ??= this.checkConfig(batch.job)) };
      if (this.signer) {
        const problem = this.signer.check("batch", { tasks: batch.tasks, job: batch.job }, batch.sig);
        if (problem) throw new Rejected("FORGED_TASK", `batch ${problem}`);
      }
      const tasks: Task[] = [];
      for (const m of messages) tasks.push(await this.check(m, () => true, shared, true));
      const jobId = tasks[0]!.job.jobId;
      if (tasks.some((t) => t.job.jobId !== jobId) || queueId !== batchQueueId(jobId, tasks)) {
        throw new Rejected("REPLAYED_TASK", `batch queue id does not match its tasks (job ${jobId})`);
      }
      return tasks;
    });
  }

  private async guarded<T>(queueId: string, check: () => Promise<T>): Promise<T> {
    try {
      return await check();
    } catch (err) {
      const code = err instanceof SheafError ? err.code : "BAD_MESSAGE";
      this.log(`rejected task ${queueId} (${code}): ${messageOf(err)}`);
      await countRejection(this.redis, this.keys, code).catch(() => {});
      throw err instanceof Rejected ? err : new Rejected(code, messageOf(err));
    }
  }

  /** A batch's shared job config, checked as a task message's would be. */
  private checkConfig(job: unknown): JobConfig {
    const config = checkMessage(Schemas.jobConfig, job, "task message's job");
    checkJobConfig(config, this.roots);
    return config;
  }

  /**
   * `placed`: whether the task sits under the queue id its job and task give it. `shared`: the
   * batch's job config and its (memoised) check: a message that carries it is checked for its own
   * fields. `inSignedBatch`: the message came in a batch whose signature over all of it held.
   */
  private async check(data: unknown, placed: (task: Task) => boolean, shared?: { job: unknown; check: () => JobConfig }, inSignedBatch = false): Promise<Task> {
    const { sig, ...fields } = (data ?? {}) as { sig?: Signature; job?: unknown };
    if (this.signer && !inSignedBatch) {
      const problem = this.signer.check("task", fields, sig);
      if (problem) throw new Rejected("FORGED_TASK", `task message ${problem}`);
    }
    const ownJob = shared === undefined || fields.job !== shared.job;
    if (!ownJob) shared.check();
    // A message without its own job shares the batch's, checked once (the same object as its `job`).
    const task: Task = ownJob ? checkMessage(Schemas.task, fields, "task message") : Object.assign(checkMessage(Schemas.taskFields, fields, "task message"), { job: shared.check() });
    if (!placed(task)) {
      throw new Rejected("REPLAYED_TASK", `queue id does not match job ${task.job.jobId}, ${task.taskId}`);
    }
    if (ownJob) checkTask(task, this.roots);
    else checkTaskFiles(task, this.roots);
    if (this.signer && !(await this.running(task.job.jobId))) throw new Rejected("REPLAYED_TASK", `job ${task.job.jobId} is not running`);
    return task;
  }

  private async running(jobId: string): Promise<boolean> {
    const seen = this.live.get(jobId);
    if (seen !== undefined && Date.now() - seen < LIVE_FOR_MS) return true;
    const state = await readField(this.redis, this.keys.job(jobId as never), "state");
    if (state !== "running") return false;
    if (this.live.size > 1000) for (const [id, at] of this.live) if (Date.now() - at >= LIVE_FOR_MS) this.live.delete(id);
    this.live.set(jobId, Date.now());
    return true;
  }
}

/** Throws BAD_MESSAGE once the strings and keys of `data` pass MAX_MESSAGE_CHARS (it stops counting there). */
function checkSize(data: unknown): void {
  let chars = 0;
  const stack: unknown[] = [data];
  const count = (n: number) => {
    chars += n;
    if (chars > MAX_MESSAGE_CHARS) throw new Rejected("BAD_MESSAGE", `task message over ${MAX_MESSAGE_CHARS >> 20} MiB`);
  };
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === "string") count(v.length);
    else if (typeof v !== "object" || v === null) count(8);
    else
      for (const k in v) {
        count(k.length + 8);
        stack.push((v as Record<string, unknown>)[k]);
      }
  }
}
