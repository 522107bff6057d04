/** Names of everything Sheaf keeps in Redis, under one prefix so that several clusters can share a Redis. */
import type { JobId } from "../ids.js";
import { SheafError } from "../errors.js";

/** BullMQ queue of tasks (keys `<prefix>:tasks:*`). */
export const TASK_QUEUE = "tasks";

export class Keys {
  constructor(readonly prefix: string) {
    if (!/^[A-Za-z0-9_.-]+$/.test(prefix)) throw new SheafError("BAD_OPTION", `prefix must be letters, digits, '_', '.' or '-', got ${JSON.stringify(prefix)}`);
  }
  /** Sorted set of job ids by submit time. */
  get jobs() { return `${this.prefix}:jobs`; }
  /**
   * Beside `jobs` and `runs`: the ids still queued or running (by submit time), so a scan costs
   * O(unfinished), and the finished ids by finish time, which retention prunes.
   */
  static unfinished(zset: string) { return `${zset}:unfinished`; }
  static finished(zset: string) { return `${zset}:finished`; }
  /** Hash: a job's spec, state and progress. */
  job(id: JobId) { return `${this.prefix}:job:${id}`; }
  /**
   * Hash: the job's failed attempts as workers count them (`failedAttempts`, `lastFailure`). Apart
   * from the job's record, which only the coordinator and submitters write: the worker's Redis user
   * may write this key and may only read the record (acl.ts).
   */
  attempts(id: JobId) { return `${this.prefix}:job:${id}:attempts`; }
  /**
   * Hash: what each attempt's own code printed (console.*), the tail kept: field `<task>#<attempt>`
   * (`@<runId>` added for a backup or re-run), value JSON `AttemptLog` (attempt-logs.ts). Written by workers.
   */
  logs(id: JobId) { return `${this.prefix}:job:${id}:logs`; }
  /**
   * List: one JSON `AttemptEnd` per attempt that ended (cluster/timeline.ts), oldest first, capped:
   * where (host, worker, thread), when, how and on how much it ran. Written by the leader from the
   * results and failures workers send back; `status`, `sheaf logs`' neighbours and the dashboard read it.
   */
  timeline(id: JobId) { return `${this.prefix}:job:${id}:timeline`; }
  /** Hash: the leader's running totals for `/metrics` (cluster/timeline.ts names the fields). */
  get metrics() { return `${this.prefix}:metrics`; }
  /** Hash: task id → committed result (first wins). */
  committed(id: JobId) { return `${this.prefix}:job:${id}:committed`; }
  /** Sorted set of pipeline run ids by submit time. */
  get runs() { return `${this.prefix}:runs`; }
  /** Hash: a pipeline run's spec, state, stage outcomes, and `job:<stage>` → the stage's job id. */
  run(id: string) { return `${this.prefix}:run:${id}`; }
  /** Set of schedule names, and one schedule's hash (its queue, fired due times and history beside it). */
  get schedules() { return `${this.prefix}:schedules`; }
  schedule(name: string) { return `${this.prefix}:schedule:${name}`; }
  /**
   * Live workers: a sorted set of worker ids by their latest heartbeat (ms), and each worker's
   * heartbeat, JSON `WorkerBeat` (workers.ts), a string that expires unless renewed.
   */
  get workers() { return `${this.prefix}:workers`; }
  worker(id: string) { return `${this.prefix}:worker:${id}`; }
  /**
   * Notifications (`--notify`): the deliveries still to try, a sorted set scored by when to try
   * next, and each delivery, JSON `Delivery` (notifications.ts), kept a week once settled.
   */
  get notifications() { return `${this.prefix}:notifications`; }
  notification(id: string) { return `${this.prefix}:notification:${id}`; }
  /** Hash: messages and records refused (forged, altered, expired, malformed, out of bounds), counted by reason. */
  get rejected() { return `${this.prefix}:rejected`; }
  /** Pub/sub channel for job events (submitted, cancel). */
  get events() { return `${this.prefix}:events`; }
  /** The coordinator leader lease, and its fencing epoch. */
  get leader() { return `${this.prefix}:leader`; }
  get epoch() { return `${this.prefix}:leader:epoch`; }
  /**
   * The BullMQ id of one run of a task: adding it twice is a no-op, so a resuming coordinator re-adds
   * the first run safely; a later run (with a runId) is a job of its own.
   */
  static taskJobId(id: JobId, taskId: string, runId?: string) { return runId ? `${id}.${taskId}.${runId}` : `${id}.${taskId}`; }
}
