/**
 * A job's committed tasks, as the driver needs them in memory: a byte per task (committed; naming
 * files), running totals of what the results say (counters, output sizes), and bad records, which
 * are rare and listed at the end. The results themselves stay in the job's store (Redis on a
 * cluster): a step that reads their files (the reduce inputs' list, re-running a lost map output,
 * the job commit) reads them back from there. A coordinator held each result with a map output or
 * part, and a set entry per task, for the job's whole life: memory growing with the job.
 */
import { SheafError } from "../core/errors.js";
import { taskId, taskOf, type TaskId, type TaskKind } from "../core/ids.js";
import type { BadRecord, TaskResult } from "../core/tasks.js";

export interface CommittedTotals {
  counters: Record<string, number>;
  recordsOut: number;
  bytesOut: number;
  parts: number;
  badRecords: number;
  resumedBytes: number;
  resumedKeys: number;
}

const COMMITTED = 1;
/** The result names a map output or a part (read back from the store when a later step needs it). */
const FILES = 2;

export class CommittedResults {
  private readonly state: Record<TaskKind, Uint8Array>;
  /** Map tasks' skipped records, by map index. */
  private readonly bad = new Map<number, BadRecord[]>();
  /** How many committed results name each counter. */
  private readonly counterRefs = new Map<string, number>();
  readonly totals: CommittedTotals = { counters: {}, recordsOut: 0, bytesOut: 0, parts: 0, badRecords: 0, resumedBytes: 0, resumedKeys: 0 };

  constructor(maps: number, reduces: number) {
    this.state = { map: new Uint8Array(maps), reduce: new Uint8Array(reduces) };
  }

  has(id: TaskId): boolean {
    const { kind, index } = taskOf(id);
    return this.hasTask(kind, index);
  }

  hasTask(kind: TaskKind, index: number): boolean {
    return (this.state[kind]?.[index] ?? 0) !== 0;
  }

  add(result: TaskResult): void {
    const { kind, index } = this.slot(result.taskId);
    this.state[kind][index] = COMMITTED | (result.mapOutput || result.part ? FILES : 0);
    if (kind === "map" && result.badRecords?.length) this.bad.set(index, result.badRecords);
    this.tally(result, 1);
  }

  /** Takes back a committed map task whose output was lost (it runs again): `result` is its committed one, from the store. */
  remove(result: TaskResult): void {
    const { kind, index } = this.slot(result.taskId);
    if (this.state[kind][index] === 0) return;
    this.state[kind][index] = 0;
    this.bad.delete(index);
    this.tally(result, -1);
  }

  /** Committed tasks of `kind` whose results name files, in task order. */
  *withFiles(kind: TaskKind): Generator<TaskId> {
    const s = this.state[kind];
    for (let i = 0; i < s.length; i++) if (s[i]! & FILES) yield taskId(kind, i);
  }

  /** Records skipped by map tasks, in map order. */
  badRecords(): BadRecord[] {
    return [...this.bad].sort(([a], [b]) => a - b).flatMap(([, records]) => records);
  }

  /** A result's place; one for no task of the plan is refused (it would otherwise be committed with the job). */
  private slot(id: TaskId): { kind: TaskKind; index: number } {
    const t = taskOf(id);
    if (!(t.index < (this.state[t.kind]?.length ?? 0))) throw new SheafError("BAD_MESSAGE", `committed result of ${id}: no such task in the plan`);
    return t;
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
