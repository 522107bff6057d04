/**
 * Runs a pipeline's stages as a DAG, over any way of running one stage's job (the embedded thread
 * pool, or job records on a cluster): a stage starts as soon as every stage it depends on has
 * succeeded (or was skipped), so independent stages run at the same time. A stage whose committed
 * output carries the same fingerprint is skipped; a failed stage stops its dependents, and the
 * pipeline fails naming it. Independent branches still run to their end.
 */
import { SheafError, messageOf } from "../core/errors.js";
import type { ResolvedStage, StageOutcome } from "../core/pipeline/stages.js";

export type { StageOutcome, StageState } from "../core/pipeline/stages.js";
import type { JobReport } from "../core/progress.js";

export interface PipelineHooks {
  /** The stage's fingerprint, from its resolved inputs and the fingerprints of the stages before it. */
  fingerprint(stage: ResolvedStage, upstream: ReadonlyMap<string, string>): string;
  /** The fingerprint its committed output (or a sink's last load) carries, if any. */
  committed(stage: ResolvedStage): string | undefined | Promise<string | undefined>;
  /** Runs the stage's job to its end; rejects when it fails. */
  run(stage: ResolvedStage, fingerprint: string, signal: AbortSignal): Promise<{ jobId: string; report: JobReport }>;
  /** Every change of a stage's state. */
  onStage?(name: string, outcome: StageOutcome): void;
}

export class PipelineFailedError extends SheafError {
  constructor(pipeline: string, readonly stage: string, cause: string) {
    super("PIPELINE_FAILED", `pipeline ${pipeline} failed: stage ${stage}: ${cause}`);
  }
}

export async function runPipeline(
  pipeline: string,
  stages: readonly ResolvedStage[],
  hooks: PipelineHooks,
  options: { force?: boolean; signal?: AbortSignal; previous?: Readonly<Record<string, StageOutcome>> } = {},
): Promise<Record<string, StageOutcome>> {
  const outcomes: Record<string, StageOutcome> = {};
  const prints = new Map<string, string>();
  const set = (name: string, o: StageOutcome) => {
    outcomes[name] = o;
    hooks.onStage?.(name, o);
  };
  for (const s of stages) set(s.name, { state: "pending" });
  let firstFailure: { stage: string; error: string } | undefined;
  const running = new Map<string, Promise<void>>();

  const runOne = async (stage: ResolvedStage): Promise<void> => {
    const started = Date.now();
    // A resumed run (another coordinator drove it before) keeps what its stages already did.
    const before = options.previous?.[stage.name];
    if ((before?.state === "succeeded" || before?.state === "skipped") && before.fingerprint) {
      prints.set(stage.name, before.fingerprint);
      return set(stage.name, before);
    }
    let fingerprint: string;
    try {
      fingerprint = hooks.fingerprint(stage, prints);
    } catch (err) {
      firstFailure ??= { stage: stage.name, error: messageOf(err) };
      return set(stage.name, { state: "failed", error: messageOf(err) });
    }
    let committed: string | undefined;
    try {
      committed = options.force ? undefined : await hooks.committed(stage);
    } catch {
      committed = undefined; // unreadable: run the stage again
    }
    if (committed === fingerprint) {
      prints.set(stage.name, fingerprint);
      return set(stage.name, { state: "skipped", fingerprint, millis: 0 });
    }
    set(stage.name, { state: "running", startedAt: started, fingerprint, jobId: options.previous?.[stage.name]?.jobId });
    try {
      const { jobId, report } = await hooks.run(stage, fingerprint, options.signal ?? new AbortController().signal);
      prints.set(stage.name, fingerprint);
      set(stage.name, { state: "succeeded", jobId, startedAt: started, millis: Date.now() - started, recordsIn: report.recordsIn, recordsOut: report.recordsOut, fingerprint });
    } catch (err) {
      const cancelled = options.signal?.aborted ?? false;
      const jobId = (err as { jobId?: string }).jobId;
      if (!cancelled) firstFailure ??= { stage: stage.name, error: messageOf(err) };
      set(stage.name, { state: cancelled ? "cancelled" : "failed", jobId, startedAt: started, millis: Date.now() - started, error: messageOf(err), fingerprint });
    }
  };

  for (;;) {
    let started = false;
    for (const stage of stages) {
      if (outcomes[stage.name]!.state !== "pending" || running.has(stage.name)) continue;
      const deps = stage.dependsOn.map((d) => outcomes[d]!.state);
      if (deps.some((d) => d === "failed" || d === "not run" || d === "cancelled")) {
        const stopped = stage.dependsOn.filter((d) => ["failed", "not run", "cancelled"].includes(outcomes[d]!.state));
        set(stage.name, { state: "not run", error: `depends on ${stopped.join(", ")}` });
        started = true;
        continue;
      }
      if (options.signal?.aborted) {
        set(stage.name, { state: "cancelled" });
        started = true;
        continue;
      }
      if (deps.every((d) => d === "succeeded" || d === "skipped")) {
        const p = runOne(stage).finally(() => running.delete(stage.name));
        running.set(stage.name, p);
        started = true;
      }
    }
    if (running.size === 0 && !started) break;
    if (running.size > 0) await Promise.race(running.values());
  }
  if (options.signal?.aborted) throw new SheafError("PIPELINE_CANCELLED", `pipeline ${pipeline} was cancelled`);
  if (firstFailure) throw Object.assign(new PipelineFailedError(pipeline, firstFailure.stage, firstFailure.error), { outcomes });
  return outcomes;
}
