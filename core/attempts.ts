/**
 * One attempt of a task as it ended, told by the job driver (engine/driver.ts `onAttemptEnded`):
 * the one record of each attempt (a job's timeline, cluster/timeline.ts): what `status` sums per stage
 * and host, what the dashboard's job page lists and draws, and what `/metrics` counts.
 */
export interface AttemptEnd {
  taskId: string;
  kind: "map" | "reduce";
  /** The reduce partition, or the map split's index. */
  index: number;
  /** The attempt number the driver gave the run (a backup shares the number of the attempt it backs up). */
  attempt: number;
  /** A backup attempt for a straggler. */
  backup: boolean;
  /** Where it ran, when its worker said: the host, the worker's heartbeat id (cluster/workers.ts) and its thread. */
  host?: string;
  worker?: string;
  thread?: number;
  /** When it started running on a worker (else when it was queued), and when it ended: ms since the epoch. */
  start: number;
  end: number;
  /** committed: it won; discarded: it succeeded after another attempt had; failed; stopped (cancelled or superseded). */
  outcome: "committed" | "discarded" | "failed" | "stopped";
  recordsIn?: number;
  bytesIn?: number;
  recordsOut?: number;
  bytesOut?: number;
  /** A failure's code and message, and where in the input it happened (file, line or key). */
  code?: string;
  error?: string;
  where?: string;
  /** The attempt found a map output lost (corrupt or missing): its map task is re-run. */
  lostInput?: boolean;
}
