/**
 * Runs a pipeline's stages as a DAG, over any way of running one stage's job (the embedded thread
 * pool, or job records on a cluster): a stage starts as soon as every stage it depends on has
 * succeeded (or was skipped), so independent stages run at the same time. A stage whose committed
 * output carries the same fingerprint is skipped; a failed stage stops its dependents, and the
 * pipeline fails naming it. Independent branches still run to their end.
 */
import { closest } from "../core/did-you-mean.js";
import { SheafError, messageOf } from "../core/errors.js";
import type { ResolvedStage, StageOutcome } from "../core/pipeline/stages.js";

export type { StageOutcome, StageState } from "../core/pipeline/stages.js";
import type { JobReport } from "../core/progress.js";

export interface PipelineHooks {
  /** The stage's fingerprint, from its resolved inputs and the fingerprints of the stages before it. */
  fingerprint(stage: ResolvedStage, upstream: ReadonlyMap<string, string>): string | Promise<string>;
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
  options: { force?: boolean; signal?: AbortSignal; previous?: Readonly<Record<string, StageOutcome>> } & StageSelection = {},
): Promise<Record<string, StageOutcome>> {
  const { rerun, needed } = selectStages(pipeline, stages, options);
  /** With --only: the stages it reads from, used as committed. */
  const readFrom = options.only === undefined ? new Set<string>() : upstreamOf(stages, options.only);
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
    // A resumed run (another coordinator drove it before) keeps what its stages already did, and a
    // stage it was running keeps its start: its time counts from then, not from the failover.
    const before = options.previous?.[stage.name];
    const started = before?.state === "running" && before.startedAt ? before.startedAt : Date.now();
    if ((before?.state === "succeeded" || before?.state === "skipped") && before.fingerprint) {
      prints.set(stage.name, before.fingerprint);
      return set(stage.name, before);
    }
    let fingerprint: string;
    try {
      fingerprint = await hooks.fingerprint(stage, prints);
    } catch (err) {
      firstFailure ??= { stage: stage.name, error: messageOf(err) };
      return set(stage.name, { state: "failed", error: messageOf(err) });
    }
    let committed: string | undefined;
    try {
      committed = options.force || rerun.has(stage.name) ? undefined : await hooks.committed(stage);
    } catch {
      committed = undefined; // unreadable: run the stage again
    }
    if (committed === fingerprint) {
      prints.set(stage.name, fingerprint);
      return set(stage.name, { state: "skipped", fingerprint, millis: 0 });
    }
    if (!needed.has(stage.name)) {
      // --only: a stage before it is used as committed, never run.
      const error = `has no committed output for this run, and --only ${options.only} runs no other stage: run the pipeline (or --from ${stage.name}) first`;
      firstFailure ??= { stage: stage.name, error };
      return set(stage.name, { state: "failed", error, fingerprint });
    }
    set(stage.name, { state: "running", startedAt: started, fingerprint, jobId: options.previous?.[stage.name]?.jobId });
    try {
      const { jobId, report } = await hooks.run(stage, fingerprint, options.signal ?? new AbortController().signal);
      prints.set(stage.name, fingerprint);
      set(stage.name, { state: "succeeded", jobId, startedAt: started, millis: Date.now() - started, recordsIn: report.recordsIn, recordsOut: report.recordsOut,
        bytesIn: report.bytesIn, bytesOut: report.bytesOut, counters: report.counters, fingerprint });
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
      if (options.only !== undefined && stage.name !== options.only && !readFrom.has(stage.name)) {
        set(stage.name, { state: "not run", error: `--only ${options.only}` });
        started = true;
        continue;
      }
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

/** Rerunning part of a pipeline: `only` one stage (the stages it reads must be committed), or everything `from` one stage on. */
export interface StageSelection {
  only?: string;
  from?: string;
}

/**
 * The stages rerun whatever is committed (`--only`'s, or `--from`'s and every stage after it), and
 * those allowed to run at all (with `--only`, that one; the stages before it must be committed).
 * An unknown stage is refused before anything runs, naming the one meant.
 */
export function selectStages(pipeline: string, stages: readonly ResolvedStage[], o: StageSelection): { rerun: Set<string>; needed: Set<string> } {
  const all = new Set(stages.map((s) => s.name));
  if (o.only !== undefined && o.from !== undefined) throw new SheafError("BAD_SELECTION", "give --only or --from, not both");
  for (const [flag, name] of [["--only", o.only], ["--from", o.from]] as const) {
    if (name === undefined || all.has(name)) continue;
    const meant = closest(name, all);
    throw new SheafError("UNKNOWN_STAGE", `pipeline ${pipeline} has no stage ${JSON.stringify(name)} (${flag})${meant ? `: did you mean ${JSON.stringify(meant)}?` : ""}; its stages: ${[...all].join(", ")}`);
  }
  if (o.only !== undefined) return { rerun: new Set([o.only]), needed: new Set([o.only]) };
  if (o.from === undefined) return { rerun: new Set(), needed: all };
  const rerun = new Set([o.from]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const s of stages) if (!rerun.has(s.name) && s.dependsOn.some((d) => rerun.has(d))) grew = rerun.add(s.name) !== undefined;
  }
  return { rerun, needed: all };
}

/** Every stage `name` depends on, directly or not. */
function upstreamOf(stages: readonly ResolvedStage[], name: string): Set<string> {
  const byName = new Map(stages.map((s) => [s.name, s]));
  const up = new Set<string>();
  const visit = (n: string) => {
    for (const d of byName.get(n)?.dependsOn ?? []) if (!up.has(d)) visit((up.add(d), d));
  };
  visit(name);
  return up;
}
