/**
 * The error `submit --wait` ends with when a job or a pipeline run did not succeed. The coordinator
 * records the cause as `sheaf run` words it, naming the job itself ("job wc failed: task map-00003
 * …"): put after "job <id> failed:" it would name the job twice, so that lead is dropped and the id
 * (which users need for `sheaf status`) names it once.
 */
import type { JobRecord } from "../core/cluster/jobs.js";
import type { RunRecord } from "../core/cluster/runs.js";
import { causeAfter, SheafError } from "../core/errors.js";

/** `JOB_CANCELLED` or `PIPELINE_CANCELLED` for a cancelled one, else `…_FAILED` (the message names the state). */
function ended(kind: "JOB" | "PIPELINE", subject: string, state: string, cause: string): SheafError {
  return new SheafError(`${kind}_${state === "cancelled" ? "CANCELLED" : "FAILED"}`, `${subject} ${state}${cause ? `: ${cause}` : ""}`);
}

export function jobEnded(record: JobRecord): SheafError {
  return ended("JOB", `job ${record.spec.id}`, record.state, causeAfter(record.error ?? "", `job ${record.spec.name}`));
}

export function runEnded(record: RunRecord): SheafError {
  return ended("PIPELINE", `pipeline run ${record.spec.id}`, record.state, causeAfter(record.error ?? "", `pipeline ${record.spec.pipeline}`));
}
