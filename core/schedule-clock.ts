/**
 * The schedule clock: when a schedule is due, computed without Redis and with the same result as the
 * BullMQ 6.7 job scheduler that fires it. Used by `sheaf schedule list` (the next due time), by backfills
 * (every due time in a range) and to reject a bad schedule before it is stored.
 *
 * Cron: BullMQ computes the next time as
 * `CronExpressionParser.parse(pattern, { ...repeatOpts, currentDate }).next()`, where currentDate is the
 * later of the previous due time and the current time. It does not pass `strict`. Sheaf sets no
 * `startDate` or `endDate`, so the same call with `{ currentDate: after, tz }` gives the same instant.
 * One difference has to be handled when registering: with no `tz`, cron-parser uses the local zone of
 * whichever process computes the time (the Queue or a Worker). Sheaf treats "no zone" as UTC, so
 * cron schedulers must be registered with `tz: spec.tz ?? "UTC"`.
 *
 * Every: due times here are the multiples of `everyMs` since the epoch. A plain BullMQ
 * `upsertJobScheduler(id, { every })` does not fire at those instants. It fires at once, then every
 * `every` ms from that moment (getJobSchedulerEveryNextMillis.lua stores `now % every` as the phase).
 * To get the instants computed here, register with `startDate: nextDue(spec, now).getTime()`. BullMQ
 * then fires at startDate and keeps its phase, 0. `offset: everyMs` also works, and it cannot race the
 * clock: Lua computes floor(now / every) * every + offset. Both were checked against BullMQ 6.7 and Redis.
 * So `--every 1d` means 00:00 UTC each day, not local midnight. Use cron with `--tz` for local times.
 *
 * Daylight-saving time (cron-parser 5.10.3, what BullMQ fires):
 * - Spring forward: a time that does not exist locally moves forward by the gap. "30 2 * * *" in
 *   Europe/Berlin fires at 03:30 CEST on 2026-03-29, once that day. The moved run belongs to the
 *   landing hour, so a search that starts at 03:00 local or later (03:00 to 03:30) skips that day's run.
 * - Fall back: a time that happens twice fires once, at its first (summer-time) occurrence, when the
 *   search starts before it (as in the chain of due times). A search that starts in the repeated
 *   hour after the first occurrence (02:00 to 02:30 CET) finds the second one. Expressions that fire
 *   more often than hourly (e.g. every 30 minutes) fire in both copies of the repeated hour, because
 *   those are distinct instants.
 */
import { createRequire } from "node:module";
import { SheafError } from "./errors.js";

// cron-parser (with luxon, ~20 ms to load) only when a cron expression is read: every `sheaf run` of
// a pipeline loads this file for logicalDate, which needs none of it.
let cronParser: typeof import("cron-parser") | undefined;
const cron = (): typeof import("cron-parser") => (cronParser ??= createRequire(import.meta.url)("cron-parser") as typeof import("cron-parser"));

/**
 * A schedule: a cron expression (5 fields, or 6 with seconds first) read in `tz` (UTC when absent),
 * or a fixed period aligned to the epoch.
 */
export type ScheduleSpec = { cron: string; tz?: string } | { everyMs: number };

const MIN_EVERY_MS = 1000;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `"10s"`, `"5m"`, `"1h"`, `"1d"`, `"1500ms"` → milliseconds. A whole number and a unit; at least 1 s. */
export function parseEvery(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(typeof text === "string" ? text.trim() : "");
  const unit = match ? UNIT_MS[match[2]!] : undefined;
  const ms = match && unit !== undefined ? Number(match[1]) * unit : NaN;
  if (!Number.isSafeInteger(ms) || ms < MIN_EVERY_MS) {
    const why = Number.isNaN(ms) ? "expected a whole number and a unit: ms, s, m, h or d (e.g. 10s, 5m, 1h, 1d)" : "it must be at least 1s";
    throw new SheafError("BAD_ARGUMENT", `invalid interval ${JSON.stringify(text)}: ${why}`);
  }
  return ms;
}

/**
 * Throws a SheafError (code INVALID_SCHEDULE) for a bad schedule, naming the expression or zone and
 * what is wrong: a cron expression that is not 5 or 6 fields or that cron-parser rejects, an unknown
 * time zone, or an interval under 1 s.
 */
export function validateSchedule(spec: ScheduleSpec): void {
  if (isCron(spec)) nextDue(spec, VALIDATION_DATE); // every check, and a first due time can be found
  else checkEvery(spec.everyMs);
}

/** The first due time strictly after `after`. For cron, this is BullMQ's next time for a scheduler upserted at `after`. */
export function nextDue(spec: ScheduleSpec, after: Date): Date {
  const at = checkDate(after, "after");
  if (!isCron(spec)) {
    const every = checkEvery(spec.everyMs);
    return new Date(Math.floor(at / every) * every + every);
  }
  const tz = checkCron(spec);
  try {
    return cron().CronExpressionParser.parse(spec.cron, { currentDate: new Date(at), tz }).next().toDate();
  } catch (err) {
    throw invalid(`invalid cron expression ${JSON.stringify(spec.cron)}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Every due time t with from <= t <= to, oldest first. The cron chain is built as BullMQ builds it: each
 * due time is the next one after the previous. Throws a SheafError (code TOO_MANY_RUNS) that gives the
 * count if there are more than `limit`. A range with `from` after `to` is an error (INVALID_RANGE),
 * not an empty result, so swapped bounds are reported.
 */
export function dueTimes(spec: ScheduleSpec, from: Date, to: Date, limit = 10_000): Date[] {
  const start = checkDate(from, "from");
  const end = checkDate(to, "to");
  if (!Number.isSafeInteger(limit) || limit < 0) throw new SheafError("BAD_ARGUMENT", `limit must be a whole number >= 0, got ${limit}`);
  validateSchedule(spec);
  if (start > end) {
    throw new SheafError("INVALID_RANGE", `empty range: from ${from.toISOString()} is after to ${to.toISOString()}`);
  }
  const out: Date[] = [];
  if (!isCron(spec)) {
    const every = spec.everyMs;
    const first = Math.ceil(start / every) * every;
    const count = first > end ? 0 : Math.floor((end - first) / every) + 1;
    if (count > limit) throw tooMany(spec, from, to, `${count}`, limit);
    for (let t = first; t <= end; t += every) out.push(new Date(t));
    return out;
  }
  for (let t = nextDue(spec, new Date(start - 1)); t.getTime() <= end; t = nextDue(spec, t)) {
    if (out.length === limit) {
      // Estimate the total from the density of due times seen so far; counting them all could take minutes.
      const seen = Math.max(1, t.getTime() - start);
      const estimate = Math.max(limit + 1, Math.round(((end - start) / seen) * (limit + 1)));
      throw tooMany(spec, from, to, `about ${estimate}`, limit);
    }
    out.push(t);
  }
  return out;
}

/**
 * The due time as local date and time in the schedule's zone (UTC when absent), for templates:
 * `{date}` is `YYYY-MM-DD` and `{time}` is `YYYY-MM-DDTHH-mm-ss` (no colons, so it is safe in paths).
 */
export function logicalDate(due: Date, tz?: string): { date: string; time: string } {
  checkDate(due, "due");
  const zone = tz ?? "UTC";
  checkZone(zone);
  const parts: Record<string, string> = {};
  for (const p of formatter(zone).formatToParts(due)) parts[p.type] = p.value;
  const date = `${(parts.year ?? "").padStart(4, "0")}-${parts.month}-${parts.day}`;
  return { date, time: `${date}T${parts.hour}-${parts.minute}-${parts.second}` };
}

// ---------------------------------------------------------------------------------------------

/** Where validateSchedule looks for a first due time, so that an expression that never fires is caught. */
const VALIDATION_DATE = new Date(Date.UTC(2000, 0, 1));

function isCron(spec: ScheduleSpec): spec is { cron: string; tz?: string } {
  const hasCron = spec != null && "cron" in spec;
  const hasEvery = spec != null && "everyMs" in spec;
  if (hasCron === hasEvery) throw invalid("a schedule needs exactly one of cron or everyMs");
  return hasCron;
}

function checkEvery(everyMs: number): number {
  if (!Number.isSafeInteger(everyMs) || everyMs < MIN_EVERY_MS) {
    throw invalid(`invalid interval ${everyMs} ms: it must be a whole number of milliseconds, at least 1000 (1s)`);
  }
  return everyMs;
}

/** The checks cron-parser does not make: the field count, hashed values and the zone. Returns the zone. */
function checkCron(spec: { cron: string; tz?: string }): string {
  const expr = spec.cron;
  if (typeof expr !== "string") throw invalid(`invalid cron expression ${String(expr)}: not a string`);
  const fields = expr.trim().split(/\s+/).filter((f) => f !== "");
  if (fields.length !== 5 && fields.length !== 6) {
    throw invalid(
      `invalid cron expression ${JSON.stringify(expr)}: it has ${fields.length} field(s); expected 5 ` +
        `(minute hour day-of-month month day-of-week) or 6 (second first)`,
    );
  }
  // Without a seed, cron-parser picks a hashed value (H) at random on every parse. BullMQ parses again
  // for every run, so the run time would move. Month and weekday names ("THU") can contain an H.
  const named = fields.length - 2;
  if (fields.some((f, i) => (i >= named ? f.replace(/[a-z]{3}/gi, "") : f).includes("H"))) {
    throw invalid(`invalid cron expression ${JSON.stringify(expr)}: hashed values (H) are not supported, because they would change on every run`);
  }
  const tz = spec.tz ?? "UTC";
  checkZone(tz);
  return tz;
}

const knownZones = new Set<string>();

function checkZone(tz: string): void {
  if (knownZones.has(tz)) return;
  try {
    if (typeof tz !== "string" || tz === "") throw new RangeError("empty");
    new Intl.DateTimeFormat(undefined, { timeZone: tz });
  } catch {
    throw invalid(`unknown time zone ${JSON.stringify(tz)}: expected an IANA zone such as "Europe/Berlin" or "UTC"`);
  }
  knownZones.add(tz);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    });
    formatters.set(tz, f);
  }
  return f;
}

function checkDate(d: Date, name: string): number {
  const t = d instanceof Date ? d.getTime() : NaN;
  if (Number.isNaN(t)) throw new SheafError("BAD_TIME", `${name} is not a valid date: ${String(d)}`);
  return t;
}

function describe(spec: ScheduleSpec): string {
  return "cron" in spec ? `cron ${JSON.stringify(spec.cron)}${spec.tz ? ` in ${spec.tz}` : ""}` : `every ${spec.everyMs} ms`;
}

function tooMany(spec: ScheduleSpec, from: Date, to: Date, count: string, limit: number): SheafError {
  return new SheafError(
    "TOO_MANY_RUNS",
    `schedule ${describe(spec)} is due ${count} times between ${from.toISOString()} and ${to.toISOString()}, ` +
      `more than the limit of ${limit}; narrow the range or raise the limit`,
  );
}

function invalid(message: string): SheafError {
  return new SheafError("INVALID_SCHEDULE", message);
}
