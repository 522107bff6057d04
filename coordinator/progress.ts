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
}

export interface JobReport extends JobProgress {
  recordsOut: number;
  bytesOut: number;
  millis: number;
  counters: Record<string, number>;
  parts: number;
}
