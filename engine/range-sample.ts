/**
 * Boundaries for `partitioner: "range"`, sampled while planning as Hadoop's InputSampler and
 * Spark's sortByKey do: the job's own map runs over the first records of up to SAMPLED_SPLITS
 * splits spread over the input, the keys it emits are sorted by their encoding, and n-1 evenly
 * spaced ones become the boundaries. Runs where planning runs (in the coordinator's planning
 * thread, or in `sheaf run`), so a map that throws fails planning with its job's name.
 */
import type { Job } from "../core/api/job.js";
import type { Key, TaskContext } from "../core/api/types.js";
import { messageOf, SheafError } from "../core/errors.js";
import { inputReader } from "../core/formats/registry.js";
import { encodeKey } from "../core/keys.js";
import type { Split } from "../core/splits.js";

const SAMPLED_SPLITS = 20;
const RECORDS_PER_SPLIT = 5_000;

class Enough {}

export async function sampleRangeBoundaries(job: Job, splits: readonly Split[], partitions: number, cwd: string, params: Record<string, string>): Promise<string[]> {
  if (partitions <= 1 || splits.length === 0) return [];
  const step = Math.max(1, splits.length / SAMPLED_SPLITS);
  const picked = new Set<number>();
  for (let i = 0; i < splits.length && picked.size < SAMPLED_SPLITS; i += step) picked.add(Math.floor(i));
  const reader = await inputReader(job.input);
  const keys: string[] = [];
  const ctx: TaskContext = {
    params: Object.freeze({ ...params }),
    taskId: "plan-sample",
    attempt: 1,
    jobName: job.name,
    input: undefined,
    counter: () => ({ inc: () => {} }),
  } as TaskContext;
  for (const i of picked) {
    let seen = 0;
    const emit = (key: Key) => void keys.push(encodeKey(key));
    try {
      await reader.read(splits[i]!, async (batch) => {
        if (job.mapBatch) await job.mapBatch(batch.batch, emit, ctx);
        else for (const r of batch.records.slice(0, RECORDS_PER_SPLIT - seen)) job.map!(r, emit, ctx);
        seen += batch.length;
        if (seen >= RECORDS_PER_SPLIT) throw new Enough();
      }, { cwd, onBadRecord: () => {} });
    } catch (err) {
      if (err instanceof Enough) continue;
      throw new SheafError("RANGE_SAMPLE_FAILED", `job ${job.name}: sampling keys for partitioner "range" from ${splits[i]!.file} failed: ${messageOf(err)}`);
    }
  }
  keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return cutPoints(keys, partitions).map((k) => Buffer.from(k, "latin1").toString("base64"));
}

/**
 * Boundaries from sorted sample keys: walking the distinct keys, a partition is closed once it holds
 * its share of what is left, and the next distinct key starts the next one. A key repeated past
 * several shares fills one partition alone (a key is never split), and the rest share the others.
 */
export function cutPoints(sorted: readonly string[], partitions: number): string[] {
  const bounds: string[] = [];
  let taken = 0;
  for (let i = 0; i < sorted.length && bounds.length < partitions - 1; ) {
    let j = i + 1;
    while (j < sorted.length && sorted[j] === sorted[i]) j++;
    const share = (sorted.length - taken) / (partitions - bounds.length);
    if (j - taken >= share && j < sorted.length) {
      bounds.push(sorted[j]!);
      taken = j;
    }
    i = j;
  }
  return bounds;
}
