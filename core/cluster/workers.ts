/**
 * The live workers, as the dashboard and `/metrics` show them: the one place that knows where they
 * are read from. For now that is BullMQ's client list (each worker names its connections `host:pid`,
 * worker/queue-worker.ts): host and pid, connected and idle times, no threads, memory or running
 * tasks. Worker heartbeats in Redis, once they exist, are read here instead and nothing else changes.
 */
import type { Queue } from "bullmq";

export interface WorkerInfo {
  /** `host:pid`. */
  name: string;
  host?: string;
  pid?: number;
  /** Seconds the connection has been open, and idle. */
  ageSeconds?: number;
  idleSeconds?: number;
  /** Where the figures come from (`bullmq-clients` until heartbeats land). */
  source: "bullmq-clients";
}

/** One entry per worker process (a worker holds several connections). */
export async function listWorkers(queue: Pick<Queue, "getWorkers">): Promise<WorkerInfo[]> {
  const clients = (await queue.getWorkers()) as Record<string, string>[];
  const byName = new Map<string, WorkerInfo>();
  for (const c of clients) {
    // Sheaf's workers all give a name; an unnamed client matching the queue's name is not one.
    const raw = c.rawname ?? "";
    if (!raw.includes(":w:")) continue;
    const name = raw.slice(raw.indexOf(":w:") + 3);
    if (byName.has(name)) continue;
    const m = /^(.*):(\d+)$/.exec(name);
    byName.set(name, {
      name,
      ...(m ? { host: m[1]!, pid: Number(m[2]) } : {}),
      ...(c.age !== undefined ? { ageSeconds: Number(c.age) } : {}),
      ...(c.idle !== undefined ? { idleSeconds: Number(c.idle) } : {}),
      source: "bullmq-clients",
    });
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}
