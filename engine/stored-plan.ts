/** The form a plan travels in (from its planning thread) and is stored in (Redis), and back. */
import type { StoredPlan } from "../core/security/messages.js";
import type { JobPlan } from "./plan.js";

/**
 * A plan as sent between threads and stored in Redis: its splits in columns (split-table.ts), and
 * no map task objects (each carried a copy of the job's config: a plan of 100,000 tasks was over
 * 100 MB of JSON, then 16 MB without the copies; its columns are about 1.5 MB).
 */
export function storedPlan(plan: JobPlan): StoredPlan {
  return { ...plan, splits: plan.splits.toColumns() };
}

/**
 * A plan read back, unchecked (checkPlan checks it next). One stored by an earlier version, a map
 * task object per split (`maps`: task i with split i), is put in columns, so that a job planned
 * before an upgrade resumes after it.
 */
export function readStoredPlan(data: unknown): unknown {
  const plan = data as { maps?: unknown; splits?: unknown } | null;
  if (plan === null || typeof plan !== "object" || !Array.isArray(plan.maps) || plan.splits !== undefined) return data;
  const { maps, ...rest } = plan as { maps: unknown[] };
  const splits = maps.map((m, i) => {
    const task = m as { index?: unknown; split?: unknown } | null;
    // Refused by checkPlan, as the columns would not be made from it.
    if (task?.index !== i || task.split === null || typeof task.split !== "object") return {};
    return task.split as Record<string, unknown>;
  });
  return { ...rest, splits: columnsOf(splits) };
}

/** Unchecked splits in columns, for checkPlan to check as it checks a fresh plan's. */
function columnsOf(splits: readonly Record<string, unknown>[]): unknown {
  const files: unknown[] = [];
  const index = new Map<unknown, number>();
  const columns = { files, file: [] as unknown[], start: [] as unknown[], end: [] as unknown[], firstLine: [] as unknown[], rest: {} as Record<string, unknown> };
  splits.forEach(({ file, start, end, firstLine, ...other }, i) => {
    let f = index.get(file);
    if (f === undefined) index.set(file, (f = files.push(file) - 1));
    columns.file.push(f);
    columns.start.push(start);
    columns.end.push(end);
    columns.firstLine.push(firstLine ?? 0);
    if (Object.keys(other).length > 0) columns.rest[i] = other;
  });
  return columns;
}
