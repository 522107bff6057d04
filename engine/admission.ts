/**
 * What a coordinator (or `sheaf run`) checks before it plans or drives a job: the record's shape,
 * its artifact where its hash puts it, its folders inside the allowed roots; and, once planned or
 * read back from Redis, every file of the plan.
 */
import { resolve, isAbsolute, sep } from "node:path";
import { artifactHash } from "../core/artifact.js";
import type { JobSubmission } from "../core/cluster/jobs.js";
import { SheafError } from "../core/errors.js";
import { checkInputFile, checkJobConfig } from "../core/security/confine.js";
import { checkMessage, Schemas } from "../core/security/messages.js";
import type { AllowedRoots } from "../core/security/roots.js";
import { absoluteLocation, artifactPath, objectOutputScratch } from "../core/storage.js";
import { isObjectUrl } from "../core/store/location.js";
import type { JobPlan } from "./plan.js";
import { SplitTable } from "./split-table.js";
import type { Redis } from "ioredis";
import type { Keys } from "../core/cluster/keys.js";
import { messageOf } from "../core/errors.js";
import { countRejection, Rejected } from "../core/security/rejections.js";
import { recordProblem, type Purpose, type Signer } from "../core/security/signing.js";

/**
 * A job, run or schedule record is acted on only if it is signed (when there is a secret) and
 * `check` accepts it; a refusal is counted in Redis and thrown as Rejected, naming `what`.
 */
export async function admitRecord(redis: Redis, keys: Keys, signer: Signer | undefined, purpose: Purpose, record: object, what: string, check: () => void): Promise<void> {
  try {
    const problem = recordProblem(signer, purpose, record);
    if (problem) throw new Rejected(`FORGED_${purpose.toUpperCase() as Uppercase<Purpose>}`, `${purpose} record ${problem}`);
    check();
  } catch (err) {
    const code = err instanceof SheafError ? err.code : "BAD_MESSAGE";
    await countRejection(redis, keys, code).catch(() => {});
    throw new Rejected(code, `${what} rejected: ${messageOf(err)}`);
  }
}

export function checkSubmission(spec: JobSubmission, roots: AllowedRoots): void {
  checkMessage(Schemas.job, spec, "job record");
  if (absoluteLocation(spec.artifact) !== artifactPath(absoluteLocation(spec.workdir), artifactHash(spec.artifact))) {
    throw new SheafError("PATH_NOT_ALLOWED", `job ${spec.name}: artifact ${spec.artifact} is not in the workdir's artifacts/`);
  }
  roots.check(spec.workdir, `job ${spec.name}: workdir`);
  if (!isObjectUrl(spec.output)) roots.check(spec.output, `job ${spec.name}: output`);
  for (const input of spec.inputs) if (!isObjectUrl(input)) roots.check(isAbsolute(input) ? input : spec.cwd + sep + input, `job ${spec.name}: input`);
}

/**
 * A plan (computed, or read back from Redis) for `spec`, from its stored form: its folders and
 * every input file inside the roots (each file its splits name, once).
 */
export function checkPlan(data: unknown, spec: Pick<JobSubmission, "id" | "workdir" | "output">, roots: AllowedRoots): JobPlan {
  const plan = checkMessage(Schemas.plan, data, `plan of job ${spec.id}`);
  const c = plan.config;
  const output = c.objectOutput ?? c.output;
  if (c.jobId !== spec.id || c.workdir !== spec.workdir || output !== spec.output || (c.objectOutput !== undefined && c.output !== objectOutputScratch(c.scratch))) {
    throw new SheafError("BAD_MESSAGE", `plan of job ${spec.id} does not match its job record`);
  }
  checkJobConfig(c, roots);
  for (const f of plan.inputs) checkInputFile(c, f.path, roots);
  const splits = SplitTable.fromColumns(plan.splits);
  for (const file of splits.paths) checkInputFile(c, file, roots);
  return { config: c, inputs: plan.inputs, splits, reduces: plan.reduces };
}
