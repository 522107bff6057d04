/** The form a plan travels in (from its planning thread) and is stored in (Redis), and back. */
import type { MapTask } from "../core/tasks.js";
import type { JobPlan } from "./plan.js";

/**
 * A plan as sent between threads and stored in Redis: its map tasks without the job's config, which
 * each would otherwise carry a copy of (a plan of 100,000 tasks was over 100 MB of JSON, held several
 * times over while planned, stored and read back).
 */
export function compactPlan(plan: JobPlan): JobPlan {
  return { ...plan, maps: plan.maps.map(({ job: _job, ...m }) => m as MapTask) };
}

/**
 * A plan read back: its map tasks given the job's config again (one stored whole keeps its copies),
 * and its splits one string per input file (JSON.parse makes one per split: 100,000 tiny splits of a
 * file held its path 100,000 times).
 */
export function withConfig(data: unknown): unknown {
  // Unchecked yet (checkPlan checks it next): every field is taken to be possibly missing.
  const plan = data as { config?: unknown; maps?: unknown } | null;
  if (!Array.isArray(plan?.maps)) return data; // refused by checkPlan
  const files = new Map<string, string>();
  for (const m of plan.maps as ({ job?: unknown; split?: { file?: unknown } } | null)[]) {
    if (m === null || typeof m !== "object") continue;
    m.job ??= plan.config;
    const file = m.split?.file;
    if (typeof file !== "string") continue; // refused by checkPlan
    const known = files.get(file);
    if (known === undefined) files.set(file, file);
    else m.split!.file = known;
  }
  return data;
}
