/** Branded ids: a JobId cannot be passed where a TaskId is expected. */
export type JobId = string & { readonly __brand: "JobId" };
export type TaskId = string & { readonly __brand: "TaskId" };

export type TaskKind = "map" | "reduce";

export function taskId(kind: TaskKind, index: number): TaskId {
  return `${kind}-${String(index).padStart(5, "0")}` as TaskId;
}

/** The kind and index a task id spells (taskId's inverse). */
export function taskOf(id: TaskId): { kind: TaskKind; index: number } {
  const dash = id.indexOf("-");
  return { kind: id.slice(0, dash) as TaskKind, index: Number(id.slice(dash + 1)) };
}

/** Sortable and unique enough across machines: time, then randomness. */
export function newJobId(name: string): JobId {
  const time = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
  const rand = Math.random().toString(36).slice(2, 8);
  return `${name}-${time}-${rand}` as JobId;
}

/** `part-00007`, the output file of reduce partition 7 (or map task 7 of a map-only job). */
export function partName(index: number, extension: string): string {
  return `part-${String(index).padStart(5, "0")}${extension}`;
}
