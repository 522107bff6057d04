/**
 * Path templates of pipeline stages: `{date}` (the logical time's YYYY-MM-DD), `{time}`
 * (YYYY-MM-DDTHH-mm-ss, path-safe) and `{NAME}` for any parameter. The logical time is `--at`
 * (default: now, UTC), or a scheduled run's due time in the schedule's zone.
 */
import { SheafError } from "../errors.js";
import { logicalDate } from "../schedule-clock.js";

export interface TemplateContext {
  /** The logical time's date and time as the templates print them (in the schedule's zone, else UTC). */
  date: string;
  time: string;
  params: Readonly<Record<string, string>>;
}

/** The logical date and time of an instant, in `tz` (an IANA zone) or UTC. */
export function logicalTime(at: Date, tz?: string): { date: string; time: string } {
  return logicalDate(at, tz);
}

/** Expands the templates of one path; an unknown `{NAME}` is an error naming it and where it is. */
export function expand(text: string, ctx: TemplateContext, where: string): string {
  return text.replace(/\{([A-Za-z_][A-Za-z0-9_.-]*)\}/g, (_m, name: string) => {
    if (name === "date") return ctx.date;
    if (name === "time") return ctx.time;
    const value = ctx.params[name];
    if (value === undefined) throw new SheafError("BAD_TEMPLATE", `${where}: {${name}} is not {date}, {time} or a parameter (give --param ${name}=…)`);
    return value;
  });
}

/** Parses `--at`: an ISO 8601 time; without a zone it is UTC. */
export function parseAt(text: string | undefined, now = new Date(), flag = "--at"): Date {
  if (text === undefined) return now;
  const withZone = /[zZ]|[+-]\d{2}:?\d{2}$/.test(text) || /^\d{4}-\d{2}-\d{2}$/.test(text) ? text : `${text}Z`;
  const at = new Date(withZone);
  if (Number.isNaN(at.getTime())) throw new SheafError("BAD_TIME", `${flag} ${JSON.stringify(text)} is not an ISO time (e.g. 2026-11-28 or 2026-11-28T02:00:00Z)`);
  return at;
}
