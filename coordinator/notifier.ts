/**
 * Alerts (`--notify URL`): the leader turns what Redis records into events and POSTs them.
 *
 * - `job.failed`: a job (not a pipeline stage's: its run speaks for it) ended failed;
 * - `run.failed`, and `run.succeeded` for a target that asked (`--notify-success`): a pipeline run
 *   (or a scheduled job's run) ended;
 * - `schedule.late`: a scheduled run not finished `--sla` after its due time (or finished later).
 *
 * Events are found by scanning the finished sets (by finish time) and the unfinished runs, never
 * by a hook on the job's path, so the job never waits for an alert, and a new leader finds what
 * the last one had not queued yet. Each (event, target) is queued once ever (SET NX,
 * core/cluster/notifications.ts) and POSTed with retries and backoff; the body is signed with
 * HMAC-SHA256 in `X-Sheaf-Signature: sha256=<hex>` when SHEAF_SECRET is set.
 */
import { createHmac } from "node:crypto";
import type { Redis } from "ioredis";
import { readJob } from "../core/cluster/jobs.js";
import { Keys } from "../core/cluster/keys.js";
import { queueNotification, settle, takeDue, wasQueued, type NotifyEvent } from "../core/cluster/notifications.js";
import { readRun, unfinishedRuns, type RunRecord } from "../core/cluster/runs.js";
import { readSchedule } from "../core/cluster/schedules.js";
import { messageOf } from "../core/errors.js";
import type { JobId } from "../core/ids.js";
import type { Logger } from "../core/log.js";
import type { NotifySpec } from "../core/security/messages.js";

export interface NotifierOptions {
  /** `sheaf coordinator --notify URL`: every job's and run's failures (and lateness) go there too. */
  targets?: readonly string[];
  /** `--notify-success`: also `run.succeeded` to those targets. @defaultValue false */
  success?: boolean;
  /** The dashboard's public address, for each event's link (`<base>/jobs/<id>`, `<base>/runs/<id>`). */
  publicUrl?: string;
  /** Signs each body (`X-Sheaf-Signature`). @defaultValue SHEAF_SECRET */
  secret?: string;
}

/** How far back a new leader looks for finished jobs and runs it may not have notified. */
const LOOK_BACK_MS = 10 * 60_000;
/** At most this often, and one pass at a time. */
const EVERY_MS = 1_000;
const POST_TIMEOUT_MS = 10_000;
const MAX_ATTEMPTS = 12;
/** A taken delivery is someone's for this long: a POST plus its timeout. */
const LEASE_MS = POST_TIMEOUT_MS + 5_000;

/** The wait before attempt `n + 1` after `n` failed: 1 s doubling, at most 5 min (about 20 min for all 12). */
export function backoffMs(n: number): number {
  return Math.min(1000 * 2 ** (n - 1), 300_000);
}

export class Notifier {
  private readonly targets: readonly string[];
  private readonly secret: string | undefined;
  /** Finished ids already looked at, by finish time; the sets are read from `since` on. */
  private readonly seen = new Map<string, number>();
  private since = 0;
  private lastPass = 0;
  private pass: Promise<void> | undefined;
  private readonly schedules = new Map<string, { notify?: NotifySpec; at: number }>();

  constructor(private readonly redis: Redis, private readonly keys: Keys, private readonly options: NotifierOptions, private readonly log: Logger) {
    this.targets = options.targets ?? [];
    this.secret = "secret" in options ? options.secret : process.env.SHEAF_SECRET || undefined;
  }

  /** One pass (find events, deliver what is due), unless one ran within EVERY_MS or still runs. Never throws. */
  tick(): Promise<void> {
    if (this.pass || Date.now() - this.lastPass < EVERY_MS) return this.pass ?? Promise.resolve();
    this.lastPass = Date.now();
    this.pass = (async () => {
      await this.findEvents().catch((err) => this.log(`notifications: cannot look for events: ${messageOf(err)}`, { level: "warn" }));
      await this.deliver().catch((err) => this.log(`notifications: cannot deliver: ${messageOf(err)}`, { level: "warn" }));
    })().finally(() => (this.pass = undefined));
    return this.pass;
  }

  /** Waits for a pass in flight (a POST is bounded by its timeout). */
  async stop(): Promise<void> {
    await this.pass;
  }

  private async findEvents(): Promise<void> {
    const now = Date.now();
    // A standby that becomes the leader long after it started looks back LOOK_BACK_MS, no further.
    this.since = Math.max(this.since, now - LOOK_BACK_MS);
    for (const [zset, kind] of [[Keys.finished(this.keys.jobs), "job"], [Keys.finished(this.keys.runs), "run"]] as const) {
      const entries = await this.redis.zrangebyscore(zset, String(this.since), "+inf", "WITHSCORES");
      for (let i = 0; i < entries.length; i += 2) {
        const id = entries[i]!;
        if (this.seen.has(`${kind}:${id}`)) continue;
        this.seen.set(`${kind}:${id}`, Number(entries[i + 1]));
        if (kind === "job") await this.jobEnded(id as JobId);
        else {
          const run = await readRun(this.redis, this.keys, id);
          if (run) await this.runEnded(run);
        }
      }
    }
    for (const id of await unfinishedRuns(this.redis, this.keys)) {
      const run = await readRun(this.redis, this.keys, id);
      if (run) await this.lateness(run, now);
    }
    // Ids older than the window the next scans read are forgotten; the window trails by 10 s (a
    // record given its finish time just before it joined the set is still found).
    this.since = Math.max(this.since, now - 10_000);
    for (const [k, at] of this.seen) if (at < this.since) this.seen.delete(k);
  }

  private async jobEnded(id: JobId): Promise<void> {
    const r = await readJob(this.redis, this.keys, id);
    if (!r || r.state !== "failed" || r.spec.run) return;
    await this.queue({ event: "job.failed", id, name: r.spec.name, error: r.error, text: `sheaf: job ${r.spec.name} (${id}) failed: ${r.error ?? "?"}` }, [r.spec.notify?.url, ...this.targets], r.finishedAt);
  }

  private async runEnded(r: RunRecord): Promise<void> {
    const s = r.spec;
    const notify = await this.notifyOf(r);
    if (r.state === "failed" || r.state === "succeeded") {
      const failed = r.state === "failed";
      const targets = [failed || notify?.success ? notify?.url : undefined, ...(failed || this.options.success ? this.targets : [])];
      const what = s.schedule ? `run ${s.id} of schedule ${s.schedule.name}` : `run ${s.id}`;
      await this.queue(
        { event: failed ? "run.failed" : "run.succeeded", id: s.id, name: s.pipeline, schedule: s.schedule?.name, error: failed ? r.error : undefined, text: `sheaf: pipeline ${s.pipeline} ${what} ${r.state}${failed ? `: ${r.error ?? "?"}` : ""}` },
        targets, r.finishedAt,
      );
    }
    if (r.finishedAt !== undefined) await this.lateness(r, r.finishedAt);
  }

  /** schedule.late, once a scheduled run is past its schedule's SLA at `now` without having finished before it. */
  private async lateness(r: RunRecord, now: number): Promise<void> {
    const due = r.spec.schedule;
    if (!due) return;
    const notify = await this.notifyOf(r);
    if (!notify?.slaMs || now <= due.due + notify.slaMs) return;
    const by = new Date(due.due + notify.slaMs).toISOString();
    await this.queue(
      { event: "schedule.late", id: r.spec.id, name: r.spec.pipeline, schedule: due.name, text: `sheaf: schedule ${due.name}: run ${r.spec.id} (due ${new Date(due.due).toISOString()}) had not finished by ${by}` },
      [notify.url, ...this.targets], due.due + notify.slaMs,
    );
  }

  /** A run's own `--notify`, else its schedule's (read at most every 10 s per schedule). */
  private async notifyOf(r: RunRecord): Promise<NotifySpec | undefined> {
    if (r.spec.notify) return r.spec.notify;
    const name = r.spec.schedule?.name;
    if (!name) return undefined;
    const cached = this.schedules.get(name);
    if (cached && Date.now() - cached.at < 10_000) return cached.notify;
    const notify = (await readSchedule(this.redis, this.keys, name))?.spec.notify;
    this.schedules.set(name, { notify, at: Date.now() });
    return notify;
  }

  private async queue(e: Omit<NotifyEvent, "eventId" | "at" | "url">, targets: readonly (string | undefined)[], at = Date.now()): Promise<void> {
    const to = targets.filter((t): t is string => !!t);
    if (to.length === 0) return;
    const eventId = `${e.event}:${e.id}`;
    if ((await Promise.all(to.map((t) => wasQueued(this.redis, this.keys, eventId, t)))).every(Boolean)) return;
    const page = this.options.publicUrl ? `${this.options.publicUrl.replace(/\/+$/, "")}/${e.event.startsWith("job.") ? "jobs" : "runs"}/${encodeURIComponent(e.id)}` : undefined;
    const event: NotifyEvent = { ...e, eventId, at: new Date(at).toISOString(), ...(page ? { url: page } : {}) };
    if (event.schedule === undefined) delete event.schedule;
    if (event.error === undefined) delete event.error;
    const n = await queueNotification(this.redis, this.keys, event, to);
    if (n) this.log(`notifications: ${e.event} for ${e.id} queued for ${n} target(s)`, { job: e.id });
  }

  private async deliver(): Promise<void> {
    const due = await takeDue(this.redis, this.keys, Date.now(), 20, LEASE_MS);
    await Promise.all(
      due.map(async ({ id, delivery }) => {
        const attempts = delivery.attempts + 1;
        const error = await this.post(delivery.target, delivery.event);
        if (error === undefined) return settle(this.redis, this.keys, id, { ...delivery, attempts, state: "delivered" });
        const giveUp = attempts >= MAX_ATTEMPTS;
        this.log(`notifications: ${delivery.event.event} for ${delivery.event.id} to ${safeUrl(delivery.target)} failed (attempt ${attempts}${giveUp ? ", giving up" : ""}): ${error}`, { job: delivery.event.id, level: "warn" });
        const next = { ...delivery, attempts, lastError: error.slice(0, 500), state: giveUp ? ("abandoned" as const) : ("pending" as const) };
        return settle(this.redis, this.keys, id, next, giveUp ? undefined : Date.now() + backoffMs(attempts));
      }),
    );
  }

  /** POSTs the event; undefined when the target answered 2xx, else why not. */
  private async post(target: string, event: NotifyEvent): Promise<string | undefined> {
    const body = JSON.stringify(event);
    const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "sheaf", "x-sheaf-event": event.event, "x-sheaf-event-id": event.eventId };
    if (this.secret) headers["x-sheaf-signature"] = signature(this.secret, body);
    try {
      const res = await fetch(target, { method: "POST", headers, body, signal: AbortSignal.timeout(POST_TIMEOUT_MS), redirect: "error" });
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? undefined : `HTTP ${res.status}`;
    } catch (err) {
      return messageOf((err as { cause?: unknown }).cause ?? err);
    }
  }
}

/** `sha256=<hex>` of HMAC-SHA256 over the body with the secret: what a receiver recomputes to trust it. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** A target as logged: no credentials, no query (a webhook's token may be in its path; that is kept to its start). */
function safeUrl(target: string): string {
  try {
    const u = new URL(target);
    return `${u.protocol}//${u.host}${u.pathname.length > 24 ? `${u.pathname.slice(0, 24)}…` : u.pathname}`;
  } catch {
    return "(a URL)";
  }
}
