/**
 * A job's committed results, as the driver needs them once committed. Which tasks have committed is
 * one entry each; the whole result is kept only when a later step reads it again: a map output (the
 * reduce inputs' list, and re-running a map whose output was lost), a part (the job commit), bad
 * records (the job's report and its limit). Everything else a result says (counters, output sizes)
 * goes into running totals at once. A 100,000-task job of tiny splits, most of them emitting
 * nothing, kept 100,000 result objects for its whole life.
 */
import type { TaskId } from "../core/ids.js";
import type { TaskResult } from "../core/tasks.js";

export interface CommittedTotals {
  counters: Record<string, number>;
  recordsOut: number;
  bytesOut: number;
  parts: number;
  badRecords: number;
  resumedBytes: number;
  resumedKeys: number;
}

export class CommittedResults {
  private readonly done = new Set<TaskId>();
  private readonly kept = new Map<TaskId, TaskResult>();
  /** How many committed results name each counter. */
  private readonly counterRefs = new Map<string, number>();
  readonly totals: CommittedTotals = { counters: {}, recordsOut: 0, bytesOut: 0, parts: 0, badRecords: 0, resumedBytes: 0, resumedKeys: 0 };

  has(id: TaskId): boolean {
    return this.done.has(id);
  }

  /** The whole result of a committed task that has one of the files or records a later step reads. */
  get(id: TaskId): TaskResult | undefined {
    return this.kept.get(id);
  }

  /** Committed results that name a file or bad records, in commit order. */
  keptResults(): IterableIterator<TaskResult> {
    return this.kept.values();
  }

  /** `id`: the result's task id as the plan spells it (one string per task, not one more per result). */
  add(result: TaskResult, id = result.taskId): void {
    this.done.add(id);
    if (result.mapOutput || result.part || result.badRecords?.length) this.kept.set(result.taskId, result);
    this.tally(result, 1);
  }

  /**
   * Takes back a committed map task whose output was lost (it runs again). Only a kept result can be:
   * a lost output is one the result names.
   */
  remove(id: TaskId): TaskResult | undefined {
    const result = this.kept.get(id);
    if (!result) return undefined;
    this.kept.delete(id);
    this.done.delete(id);
    this.tally(result, -1);
    return result;
  }

  private tally(r: TaskResult, sign: 1 | -1): void {
    const t = this.totals;
    if (r.kind === "map") t.resumedBytes += sign * (r.stats.resumed ?? 0);
    else t.resumedKeys += sign * (r.stats.resumed ?? 0);
    for (const [k, v] of Object.entries(r.counters)) {
      // A counter is reported while any committed result names it (as a sum over them would).
      const refs = (this.counterRefs.get(k) ?? 0) + sign;
      this.counterRefs.set(k, refs);
      if (refs === 0) delete t.counters[k];
      else t.counters[k] = (t.counters[k] ?? 0) + sign * v;
    }
    t.badRecords += sign * (r.badRecords?.length ?? 0);
    if (r.part) {
      t.recordsOut += sign * r.part.records;
      t.bytesOut += sign * r.part.bytes;
      t.parts += sign;
    }
  }
}
