/**
 * A job's attempts in Redis (`Keys.timeline`): the leader appends each ended attempt (a batch per
 * flush, so a 10,000-task job costs a few hundred round trips, not 10,000), and counts them into the
 * cluster's metric totals (`Keys.metrics`) in the same transaction, so `/metrics` on any coordinator
 * (a standby too) reads a handful of keys per scrape. Fields of the totals are named here only.
 */
import type { Redis } from "ioredis";
import type { AttemptEnd } from "../attempts.js";
import type { JobId } from "../ids.js";
import type { Keys } from "./keys.js";

/** Attempts kept per job: the latest ones (a longer job's earliest fall off its timeline). */
export const TIMELINE_KEPT = 20_000;

/**
 * Field of the job's record counting the attempts ever appended, so an attempt's place in the
 * timeline (its sequence number, 0 for the first) survives the trim of the list's head: a reader
 * can ask for what came after the last it saw (`readAttemptsFrom`).
 */
const APPENDED = "timelineAppended";

/** Upper bounds (seconds) of the task duration histogram's buckets. */
export const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800] as const;

/** The metric totals' field names. */
export const MetricFields = {
  tasks: (kind: string, outcome: string) => `tasks:${kind}:${outcome}`,
  durationBucket: (kind: string, le: string) => `duration:${kind}:${le}`,
  durationSum: (kind: string) => `duration-sum-ms:${kind}`,
  records: (kind: string, direction: "in" | "out") => `records:${kind}:${direction}`,
  bytes: (kind: string, direction: "in" | "out") => `bytes:${kind}:${direction}`,
  retries: "retries",
  speculative: "speculative",
  lostMapOutputs: "lost-map-outputs",
} as const;

/** The totals one attempt adds. */
export function metricIncrements(a: AttemptEnd): [string, number][] {
  const sums = new Map<string, number>();
  addIncrements(a, sums);
  return [...sums];
}

/**
 * Adds one attempt's increments to `sums`, its fields' names made once each (an attempt spelled
 * them, and built a pair for each, on the leader's path of every task).
 */
function addIncrements(a: AttemptEnd, sums: Map<string, number>): void {
  const add = (field: string, n: number) => sums.set(field, (sums.get(field) ?? 0) + n);
  const f = fieldsOf(a.kind);
  add(f.tasks(a.outcome), 1);
  const seconds = Math.max(0, a.end - a.start) / 1000;
  const bucket = DURATION_BUCKETS.findIndex((b) => seconds <= b);
  add(f.buckets[bucket < 0 ? DURATION_BUCKETS.length : bucket]!, 1);
  add(f.durationSum, Math.round(seconds * 1000));
  if (a.outcome === "committed") {
    add(f.recordsIn, a.recordsIn ?? 0);
    add(f.bytesIn, a.bytesIn ?? 0);
    add(f.recordsOut, a.recordsOut ?? 0);
    add(f.bytesOut, a.bytesOut ?? 0);
  }
  if (a.attempt > 1 && !a.backup) add(MetricFields.retries, 1);
  if (a.backup) add(MetricFields.speculative, 1);
  if (a.lostInput) add(MetricFields.lostMapOutputs, 1);
}

interface KindFields {
  tasks: (outcome: string) => string;
  /** By bucket index; the last is +Inf. */
  buckets: string[];
  durationSum: string;
  recordsIn: string;
  bytesIn: string;
  recordsOut: string;
  bytesOut: string;
}
const kindFields = new Map<string, KindFields>();

function fieldsOf(kind: string): KindFields {
  let f = kindFields.get(kind);
  if (f) return f;
  const byOutcome = new Map<string, string>();
  f = {
    tasks: (outcome) => byOutcome.get(outcome) ?? byOutcome.set(outcome, MetricFields.tasks(kind, outcome)).get(outcome)!,
    buckets: [...DURATION_BUCKETS.map((le) => MetricFields.durationBucket(kind, String(le))), MetricFields.durationBucket(kind, "+Inf")],
    durationSum: MetricFields.durationSum(kind),
    recordsIn: MetricFields.records(kind, "in"),
    bytesIn: MetricFields.bytes(kind, "in"),
    recordsOut: MetricFields.records(kind, "out"),
    bytesOut: MetricFields.bytes(kind, "out"),
  };
  kindFields.set(kind, f);
  return f;
}

/** Appends `ended` attempts of one job and adds them to the totals, in one transaction. */
export async function appendAttempts(redis: Redis, keys: Keys, jobId: JobId, ended: readonly AttemptEnd[]): Promise<void> {
  if (ended.length === 0) return;
  const sums = new Map<string, number>();
  for (const a of ended) addIncrements(a, sums);
  const tx = redis.multi().rpush(keys.timeline(jobId), ...ended.map((a) => JSON.stringify(a))).ltrim(keys.timeline(jobId), -TIMELINE_KEPT, -1).hincrby(keys.job(jobId), APPENDED, ended.length);
  for (const [field, n] of sums) if (n) tx.hincrby(keys.metrics, field, n);
  await tx.exec();
}

/** A job's attempts, oldest first (entries that do not parse are left out). */
export async function readAttempts(redis: Redis, keys: Keys, jobId: JobId): Promise<AttemptEnd[]> {
  return parseAttempts(await redis.lrange(keys.timeline(jobId), 0, -1));
}

/** Attempts from sequence number `from` on: `next` is where the next read starts. */
export interface TimelineSlice {
  /** The first one's sequence number: above the `from` asked for when those between were trimmed. */
  from: number;
  next: number;
  attempts: AttemptEnd[];
}

/**
 * The attempts appended since sequence number `from` (0: all kept), in one transaction per try: the
 * list's head is trimmed only past TIMELINE_KEPT, so the index guessed from `first` (the
 * sequence number of the list's head, as last seen) is right the first time but after a trim.
 * Costs O(attempts returned), whatever the timeline's length.
 */
export async function readAttemptsFrom(redis: Redis, keys: Keys, jobId: JobId, from: number, first = 0): Promise<TimelineSlice & { first: number }> {
  const { rows, ...slice } = await readRowsFrom(redis, keys, jobId, from, first);
  return { ...slice, attempts: parseAttempts(rows) };
}

/**
 * `readAttemptsFrom` with the attempts as the leader wrote them (JSON text), for a reader that only
 * passes them on (live.ts): nothing parsed and serialized again.
 */
export async function readRowsFrom(redis: Redis, keys: Keys, jobId: JobId, from: number, first = 0): Promise<Omit<TimelineSlice, "attempts"> & { first: number; rows: string[] }> {
  for (let tries = 0; ; tries++) {
    const index = Math.max(0, from - first);
    const [appended, length, rows] = ((await redis.multi().hget(keys.job(jobId), APPENDED).llen(keys.timeline(jobId)).lrange(keys.timeline(jobId), index, -1).exec()) ?? []).map(([err, v]) => {
      if (err) throw err;
      return v;
    }) as [string | null, number, string[]];
    // A timeline written before the count was kept: its head is its first attempt.
    const head = Math.max(0, Number(appended ?? 0) - length);
    if (head === first || tries === 2) {
      const start = head + Math.min(index, length);
      const skip = Math.max(0, from - start); // only after a third try's guess fell short
      return { from: start + skip, next: head + length, rows: rows.slice(skip), first: head };
    }
    first = head;
  }
}

function parseAttempts(rows: string[]): AttemptEnd[] {
  return rows.flatMap((row) => {
    try {
      const a = JSON.parse(row) as AttemptEnd;
      return a && typeof a.taskId === "string" && typeof a.start === "number" && typeof a.end === "number" ? [a] : [];
    } catch {
      return [];
    }
  });
}

/** The metric totals, by field. */
export async function readMetricTotals(redis: Redis, keys: Keys): Promise<Record<string, number>> {
  const h = await redis.hgetall(keys.metrics);
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v) || 0]));
}
