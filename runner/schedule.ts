/**
 * `sheaf schedule add|list|remove|pause|resume|backfill`: schedules live in Redis (their spec, and
 * a BullMQ job scheduler on the `schedules` queue that wakes the coordinator's leader at each due
 * time). Pause removes the job scheduler and keeps the spec; resume puts it back.
 */
import { resolve } from "node:path";
import { absoluteLocation } from "../core/storage.js";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { loadModule } from "../core/artifact.js";
import { signerFromEnv, signRecord } from "../core/security/signing.js";
import type { Keys } from "../core/cluster/keys.js";
import { makeRunSubmission, newRunId, runAttempt, type RunSettings } from "../core/cluster/runs.js";
import {
  deleteSchedule, firedDueTimes, latestRunOf, listSchedules, queueDueTimes, readSchedule, saveSchedule, SCHEDULE_QUEUE, setScheduleState, type ScheduleRecord, type ScheduleSpec,
} from "../core/cluster/schedules.js";
import { SheafError } from "../core/errors.js";
import { plural, showDuration } from "../core/show.js";
import { AllowedRoots } from "../core/security/roots.js";
import { dueTimes, parseEvery, validateSchedule, type ScheduleSpec as When } from "../core/schedule-clock.js";
import { parseAt } from "../core/pipeline/templates.js";
import { bundleJob } from "./bundle.js";
import { scheduleNextDue, scheduleWhen } from "./status-data.js";
import type { JobSettings } from "./job-settings.js";
import type { NotifySpec } from "../core/security/messages.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export interface AddOptions {
  cron?: string;
  every?: string;
  tz?: string;
  overlap: string;
  settings: JobSettings & { notify?: NotifySpec };
  /** `--sla`: a run not finished this long after it was due is reported (schedule.late) to `--notify`. */
  slaMs?: number;
}

const when = (spec: Pick<ScheduleSpec, "cron" | "everyMs" | "tz">): When => scheduleWhen(spec);

/** The BullMQ job scheduler for a schedule: cron in its zone (UTC by default), or every N ms aligned to the epoch. */
async function upsert(redis: Redis, keys: Keys, spec: ScheduleSpec): Promise<void> {
  const queue = new Queue(SCHEDULE_QUEUE, { connection: redis, prefix: keys.prefix });
  try {
    // `offset: every` makes BullMQ fire at multiples of the interval since the epoch, as core/schedule-clock.ts counts them.
    const repeat = spec.cron !== undefined ? { pattern: spec.cron, tz: spec.tz ?? "UTC" } : { every: spec.everyMs!, offset: spec.everyMs! };
    // A wake-up refused to a stale leader is retried, by then the new leader's.
    await queue.upsertJobScheduler(spec.name, repeat, { name: "fire", data: { schedule: spec.name }, opts: { attempts: 20, backoff: { type: "fixed", delay: 1000 }, removeOnComplete: 100, removeOnFail: 100 } });
  } finally {
    await queue.close();
  }
}

async function unschedule(redis: Redis, keys: Keys, name: string): Promise<void> {
  const queue = new Queue(SCHEDULE_QUEUE, { connection: redis, prefix: keys.prefix });
  try {
    await queue.removeJobScheduler(name);
  } finally {
    await queue.close();
  }
}

async function existing(redis: Redis, keys: Keys, name: string): Promise<ScheduleRecord> {
  const s = await readSchedule(redis, keys, name);
  if (!s) throw new SheafError("NO_SUCH_SCHEDULE", `no schedule ${name} under prefix ${keys.prefix}`);
  return s;
}

export async function addSchedule(redis: Redis, keys: Keys, name: string, module: string, o: AddOptions): Promise<ScheduleSpec> {
  if (!NAME.test(name)) throw new SheafError("BAD_SCHEDULE", `a schedule name is letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`);
  if ((o.cron === undefined) === (o.every === undefined)) throw new SheafError("BAD_SCHEDULE", "give --cron \"<expr>\" or --every <duration>, one of them");
  if (await readSchedule(redis, keys, name)) throw new SheafError("SCHEDULE_EXISTS", `schedule ${name} exists: remove it first, or change it with schedule update`);
  const s = o.settings;
  // Templates ({date}) are expanded at each run: the workdir and the output's fixed part are checked now.
  const roots = AllowedRoots.from(s.allowRoots);
  roots.check(absoluteLocation(s.workdir), "workdir");
  if (s.output !== undefined) roots.check(absoluteLocation(s.output), "output");
  const settings: RunSettings = {
    workdir: absoluteLocation(s.workdir), cwd: process.cwd(), params: s.params, partitions: s.partitions, splitSize: s.splitSize, sortBufferBytes: s.sortBufferBytes, maxAttempts: s.maxAttempts,
    taskTimeoutMs: s.taskTimeoutMs, checkpointBytes: s.checkpointBytes, speculative: s.speculative,
    ...(s.pool !== undefined ? { pool: s.pool } : {}), ...(s.priority !== undefined ? { priority: s.priority } : {}),
    ...(s.inputs.length ? { inputs: s.inputs } : {}), ...(s.output !== undefined ? { output: s.output } : {}),
  };
  if (o.slaMs !== undefined && !s.notify) throw new SheafError("BAD_SCHEDULE", "--sla needs --notify URL: where to report a late run");
  const spec: ScheduleSpec = await resolveSpec(name, module, { cron: o.cron, everyMs: everyOf(o.every), tz: o.tz }, o.overlap, settings, Date.now());
  if (s.notify) spec.notify = { ...s.notify, ...(o.slaMs !== undefined ? { slaMs: o.slaMs } : {}) };
  await saveSchedule(redis, keys, signRecord(signerFromEnv(), "schedule", spec));
  await upsert(redis, keys, spec);
  return spec;
}

/** What `schedule update` may change: anything given replaces what the schedule had. */
export interface UpdateOptions {
  module?: string;
  cron?: string;
  every?: string;
  tz?: string;
  overlap?: string;
  settings: Partial<Omit<RunSettings, "cwd">>;
}

/**
 * Re-bundles a schedule's module (from the file it was added from, or another) and changes what is
 * given, keeping its history, fired due times, queue and state: later runs run the new code.
 */
export async function updateSchedule(redis: Redis, keys: Keys, name: string, o: UpdateOptions): Promise<ScheduleSpec> {
  const { spec: old, state } = await existing(redis, keys, name);
  if (o.cron !== undefined && o.every !== undefined) throw new SheafError("BAD_SCHEDULE", "give --cron \"<expr>\" or --every <duration>, not both");
  const timing = o.cron !== undefined ? { cron: o.cron, tz: o.tz ?? old.tz } : o.every !== undefined ? { everyMs: everyOf(o.every), tz: o.tz } : { cron: old.cron, everyMs: old.everyMs, tz: o.tz ?? old.tz };
  // Paths stay relative to where the schedule was added; a module given now is found from here.
  const module = o.module !== undefined ? resolve(o.module) : old.module;
  const given = Object.fromEntries(Object.entries(o.settings).filter(([, v]) => v !== undefined));
  const settings: RunSettings = { ...old.settings, ...given, ...(given.workdir ? { workdir: absoluteLocation(String(given.workdir)) } : {}), cwd: old.settings.cwd };
  const spec: ScheduleSpec = await resolveSpec(name, module, timing, o.overlap ?? old.overlap, settings, old.createdAt);
  if (old.notify) spec.notify = old.notify; // alerts are kept; remove and add the schedule to change them
  await redis.hset(keys.schedule(name), "spec", JSON.stringify(signRecord(signerFromEnv(), "schedule", spec)));
  if (state === "active") await upsert(redis, keys, spec);
  return spec;
}

function everyOf(every: string | undefined): number | undefined {
  try {
    return every === undefined ? undefined : parseEvery(every);
  } catch (err) {
    throw new SheafError("BAD_SCHEDULE", (err as Error).message);
  }
}

/** A schedule's spec: its timing checked, its module bundled now and resolved once, so a bad module, path or template fails here rather than at 2 a.m. */
async function resolveSpec(name: string, module: string, timing: { cron?: string; everyMs?: number; tz?: string }, overlap: string, settings: RunSettings, createdAt: number): Promise<ScheduleSpec> {
  if (overlap !== "skip" && overlap !== "queue") throw new SheafError("BAD_SCHEDULE", `--overlap must be skip or queue, got ${JSON.stringify(overlap)}`);
  if (timing.tz !== undefined && timing.everyMs !== undefined) throw new SheafError("BAD_SCHEDULE", "--tz applies to --cron schedules only");
  validateSchedule(when(timing));
  const artifact = await bundleJob(resolve(settings.cwd, module), settings.workdir);
  const mod = await loadModule(artifact.local, module);
  makeRunSubmission(mod, artifact, settings, { id: newRunId(name), at: new Date(), tz: timing.tz });
  return {
    name, module, artifact: artifact.path, artifactSha: artifact.sha256,
    ...(timing.cron !== undefined ? { cron: timing.cron } : { everyMs: timing.everyMs }),
    ...(timing.tz ? { tz: timing.tz } : {}),
    overlap, settings, createdAt, bundledAt: Date.now(),
  };
}

export async function removeSchedule(redis: Redis, keys: Keys, name: string): Promise<void> {
  await existing(redis, keys, name);
  await unschedule(redis, keys, name);
  await deleteSchedule(redis, keys, name);
}

export async function pauseSchedule(redis: Redis, keys: Keys, name: string): Promise<void> {
  await existing(redis, keys, name);
  await setScheduleState(redis, keys, name, "paused");
  await unschedule(redis, keys, name);
}

export async function resumeSchedule(redis: Redis, keys: Keys, name: string): Promise<void> {
  const s = await existing(redis, keys, name);
  await setScheduleState(redis, keys, name, "active");
  await upsert(redis, keys, s.spec);
}

/** How many due times a backfill queues without `--yes`. */
export const BACKFILL_MAX_RUNS = 100;

/**
 * Queues every due time in [from, to] never run, oldest first; they run one at a time. Returns them.
 * A due time counts as run when it fired (the fired hash) or its run's record is there, whatever
 * that run's outcome: a second backfill over a window queues nothing again. With `rerunFailed`, a
 * due time whose newest run failed is queued too, and runs under a new run id (`-r2`, `-r3`, ...);
 * a pipeline's rerun skips the stages its failed run committed. More than `maxRuns` due times are
 * refused unless `yes` (a 10 s schedule over a day is 8,640 runs).
 */
export async function backfill(
  redis: Redis, keys: Keys, name: string, from: string, to: string, o: { maxRuns?: number; yes?: boolean; rerunFailed?: boolean } = {},
): Promise<number[]> {
  const s = await existing(redis, keys, name);
  const fired = await firedDueTimes(redis, keys, name);
  const queued = new Set(s.queued);
  const start = parseAt(from, undefined, "--from");
  const end = parseAt(to, undefined, "--to");
  const due: number[] = [];
  const window = dueTimes(when(s.spec), start, end).map((t) => t.getTime()).filter((d) => !queued.has(d));
  // One round trip for the run each due time's fired entry names (or its first); only a due time
  // whose run is there is looked at further (for a rerun after it).
  const pipe = redis.pipeline();
  for (const d of window) pipe.exists(keys.run(newRunId(name, d, runAttempt(fired.get(d) || newRunId(name, d)))));
  const there = ((await pipe.exec()) ?? []).map(([, n]) => n === 1);
  for (const [i, d] of window.entries()) {
    const latest = there[i] ? await latestRunOf(redis, keys, name, d, fired.get(d) ?? "") : undefined;
    // A fired due time whose run record retention removed still ran.
    const ran = latest !== undefined || !!fired.get(d);
    if (!ran || (o.rerunFailed && latest?.state === "failed")) due.push(d);
  }
  const maxRuns = o.maxRuns ?? BACKFILL_MAX_RUNS;
  if (due.length > maxRuns && !o.yes) {
    throw new SheafError("BACKFILL_TOO_BIG", `schedule ${name} would run ${due.length} due times between ${start.toISOString()} and ${end.toISOString()}, more than --max-runs ${maxRuns}: pass --yes to queue them all, or narrow the window`);
  }
  await queueDueTimes(redis, keys, name, due, signerFromEnv());
  return due;
}

export function renderSchedules(records: readonly ScheduleRecord[], now = new Date()): string {
  if (records.length === 0) return "no schedules";
  return records
    .map((r) => {
      const s = r.spec;
      const expr = s.cron !== undefined ? `cron "${s.cron}" ${s.tz ?? "UTC"}` : `every ${showDuration(s.everyMs!)}`;
      const next = scheduleNextDue(r, now)?.toISOString() ?? "-";
      const code = `code ${s.artifactSha.slice(0, 12)}${s.bundledAt ? ` bundled ${new Date(s.bundledAt).toISOString()}` : ""}`;
      const lines = [`${s.name}  ${r.state}  ${expr}  overlap ${s.overlap}  next ${next}  (${s.module})  ${code}`];
      if (s.notify) lines.push(`  notify    ${notifyTarget(s.notify.url)}${s.notify.success ? " (successes too)" : ""}${s.notify.slaMs ? `, late after ${showDuration(s.notify.slaMs)}` : ""}`);
      if (r.running) lines.push(`  running   ${r.running}`);
      if (r.queued.length) lines.push(`  queued    ${plural(r.queued.length, "due time")}, next ${new Date(r.queued[0]!).toISOString()}`);
      for (const e of r.history.slice(0, 5)) lines.push(`  ${new Date(e.due).toISOString()}  ${e.outcome}${e.run ? `  ${e.run}` : ""}${e.note ? `  ${e.note}` : ""}`);
      return lines.join("\n");
    })
    .join("\n\n");
}

/** A notify URL as `schedule list` shows it: its origin (a webhook's path may hold its token). */
function notifyTarget(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return "(a URL)";
  }
}

export { listSchedules };
