/** What a job's progress and final report hold; shown by `run`, `submit --wait` and `status`. */

export type Stage = "map" | "reduce" | "commit";

export interface JobProgress {
  stage: Stage;
  mapsDone: number;
  mapsTotal: number;
  reducesDone: number;
  reducesTotal: number;
  /** Input records and bytes read by committed map tasks. */
  recordsIn: number;
  bytesIn: number;
  bytesTotal: number;
  startedAt: number;
  /** Attempts dispatched and not yet finished (on a cluster: queued or running on a worker). */
  running: number;
  /** Attempts that failed (retried or not), and the latest failure's message. */
  failedAttempts: number;
  lastFailure?: string;
  /** On a cluster: the job's pool, and its task slots out (queued or running) of all jobs' together. */
  share?: { pool: string; slots: number; of: number };
}

export interface JobReport extends JobProgress {
  recordsOut: number;
  bytesOut: number;
  millis: number;
  counters: Record<string, number>;
  parts: number;
  /** Work that retried attempts did not redo, thanks to checkpoints: map input bytes, reduce keys. */
  resumedBytes: number;
  resumedKeys: number;
}

export function isReport(p: JobProgress | JobReport): p is JobReport {
  return "millis" in p;
}
