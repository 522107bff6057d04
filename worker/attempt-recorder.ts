/**
 * Records what each attempt this worker's threads ran printed (core/cluster/attempt-logs.ts), for
 * `sheaf logs`; when and where it ran goes back in its result or failure, to the leader's timeline
 * (queue-worker.ts ranHere). The worker flushes them before it returns an attempt's result
 * (a batch's at once), so a job never ends, and retention never deletes its keys, before its
 * attempts' records are written (one written after would outlive the job); what is left (a stopped
 * attempt's) is written within FLUSH_MS. A write that fails is logged once and dropped (these
 * records serve people, never the job).
 */
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import { messageOf } from "../core/errors.js";
import type { JobId } from "../core/ids.js";
import type { Keys } from "../core/cluster/keys.js";
import { recordLogs, type AttemptLog } from "../core/cluster/attempt-logs.js";
import type { Logger } from "../core/log.js";
import type { AttemptRun, Task, TaskOutcome } from "../core/tasks.js";

const FLUSH_MS = 200;

export class AttemptRecorder {
  private logs = new Map<JobId, AttemptLog[]>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private failing = false;
  private readonly host = hostname();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly worker: string,
    private readonly log: Logger,
  ) {}

  note(task: Task, run: AttemptRun, outcome: TaskOutcome): void {
    const id = task.job.jobId;
    const base = { task: task.taskId, attempt: task.attempt, ...(task.runId ? { runId: task.runId } : {}), host: this.host, worker: this.worker };
    const failure = outcome.ok || outcome.failure.code === "STOPPED" ? undefined : outcome.failure;
    if (!run.printed && !failure) return;
    push(this.logs, id, {
      ...base, at: run.endedAt, lines: run.printed?.lines ?? [], dropped: run.printed?.dropped ?? 0,
      ...(failure ? { error: `${failure.code}: ${failure.message}`.slice(0, 4096), ...(failure.at ? { where: failure.at } : {}), ...(failure.stack ? { stack: failure.stack.slice(0, 4096) } : {}) } : {}),
    });
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Writes what was gathered; resolves once it (and any write before it) is done. */
  flush(): Promise<void> {
    if (this.logs.size === 0) return this.writing;
    clearTimeout(this.timer);
    this.timer = undefined;
    const logs = this.logs;
    this.logs = new Map();
    this.writing = this.writing.then(async () => {
      try {
        await recordLogs(this.redis, this.keys, logs);
        this.failing = false;
      } catch (err) {
        if (!this.failing) this.log(`cannot record attempts' output: ${messageOf(err)}`, { level: "warn" });
        this.failing = true;
      }
    });
    return this.writing;
  }
}

function push<T>(map: Map<JobId, T[]>, id: JobId, entry: T): void {
  const list = map.get(id);
  if (list) list.push(entry);
  else map.set(id, [entry]);
}
