/** What `run` and `submit` both take from the command line about a job: inputs, output, and how to cut and run it. */
import { availableParallelism } from "node:os";

export interface JobSettings {
  inputs: string[];
  output: string;
  workdir: string;
  splitSize: number;
  partitions?: number;
  params: Record<string, string>;
  sortBufferBytes: number;
  overwrite: boolean;
  maxAttempts: number;
  taskTimeoutMs?: number;
  checkpointBytes?: number;
  speculative?: boolean;
}

export const JOB_DEFAULTS = {
  threads: availableParallelism(),
  splitSize: 64 << 20,
  sortBufferBytes: 128 << 20,
  maxAttempts: 4,
};
