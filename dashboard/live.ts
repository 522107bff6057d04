/**
 * Live updates for the pages (server-sent events at `/events`), driven by the cluster's events
 * channel (core/cluster/state/events.ts): a job or run submitted, finished or cancelled, a
 * schedule's due times queued, each pushed to every open page at once. Progress is not published
 * on the channel (the leader writes it to the record, throttled), so while a page is open and a job
 * runs, one timer per server reads the running jobs' progress every TICK_MS and pushes what
 * changed, with its rates and ETA (the pages update their rows in place, reading nothing more): a
 * cost that does not grow with the number of pages, and nothing at all when none is open.
 *
 * A job's page opens `/events?job=<id>`: on the same tick the server reads that job's attempts
 * ended since its last read (core/cluster/timeline.ts `readAttemptsFrom`, O(new attempts)) and
 * pushes them, numbered, to every page of that job, which adds them to its timeline: no page
 * re-reads a timeline, and a job's new attempts are read once per tick however many pages show it.
 */
import type { ServerResponse } from "node:http";
import type { Redis } from "ioredis";
import { unfinishedJobs } from "../core/cluster/jobs.js";
import type { Keys } from "../core/cluster/keys.js";
import { decodeEvent } from "../core/cluster/state/events.js";
import { readRowsFrom } from "../core/cluster/timeline.js";
import type { JobId } from "../core/ids.js";
import type { JobProgress } from "../core/progress.js";
import { progressFigures } from "../runner/status-data.js";

const TICK_MS = 1_000;
/** A comment line now and then keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 20_000;

export class LiveUpdates {
  private readonly clients = new Set<ServerResponse>();
  /** The job each job page follows, and per job the timeline's next sequence number read (and its head's). */
  private readonly watching = new Map<ServerResponse, string>();
  private readonly cursors = new Map<string, { next: number; first: number }>();
  private ticker: NodeJS.Timeout | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private subscribed = false;
  private readonly last = new Map<string, string>();
  private ticking = false;

  /** `sub`: a connection of its own (subscribed, it can do nothing else); `redis` for the reads. */
  /** `changed`: called on each of the cluster's events (what was read before may be stale). */
  constructor(private readonly redis: Redis, private readonly sub: Redis, private readonly keys: Keys, private readonly changed: () => void = () => {}) {
    this.sub.on("message", (_channel: string, message: string) => {
      const event = decodeEvent(message);
      if (!event || event.kind === "stop") return;
      this.changed();
      this.send("cluster", event);
    });
  }

  /** Streams events to `res` until its page goes; with `job`, that job's new attempts too. */
  open(res: ServerResponse, job?: string): void {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
    res.write("retry: 2000\n\n");
    this.clients.add(res);
    if (job) this.watching.set(res, job);
    res.on("close", () => {
      this.clients.delete(res);
      this.watching.delete(res);
      if (this.clients.size === 0) this.idle();
    });
    if (!this.subscribed) {
      this.subscribed = true;
      void this.sub.subscribe(this.keys.events).catch(() => (this.subscribed = false));
    }
    this.ticker ??= setInterval(() => void this.tick(), TICK_MS);
    this.keepalive ??= setInterval(() => this.broadcast(": keepalive\n\n"), KEEPALIVE_MS);
  }

  get openPages(): number {
    return this.clients.size;
  }

  private idle(): void {
    clearInterval(this.ticker);
    clearInterval(this.keepalive);
    this.ticker = this.keepalive = undefined;
    this.last.clear();
    this.cursors.clear();
    if (this.subscribed) {
      this.subscribed = false;
      void this.sub.unsubscribe(this.keys.events).catch(() => {});
    }
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await Promise.all([this.progress(), this.timelines()]);
    } catch {
      // Redis unreachable for now: the next tick tries again.
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Pushes each followed job's attempts ended since the last tick. A job newly followed starts
   * where its timeline is now: its page read what came before itself (`/api/jobs/<id>?from=`),
   * and asks for any gap between the two.
   */
  private async timelines(): Promise<void> {
    const jobs = new Set(this.watching.values());
    for (const id of this.cursors.keys()) if (!jobs.has(id)) this.cursors.delete(id);
    await Promise.all([...jobs].map(async (id) => {
      const at = this.cursors.get(id);
      const slice = await readRowsFrom(this.redis, this.keys, id as JobId, at?.next ?? Number.MAX_SAFE_INTEGER, at?.first);
      this.cursors.set(id, { next: slice.next, first: slice.first });
      if (!at || slice.rows.length === 0) return;
      // The rows as the leader wrote them (JSON.stringify: one line each), passed on unparsed; one
      // with a line break (not the leader's) could end the event early, and is left to the page's reads.
      const rows = slice.rows.filter((r) => !/[\r\n]/.test(r));
      const text = `event: timeline\ndata: {"id":${JSON.stringify(id)},"from":${slice.from},"next":${slice.next},"attempts":[${rows.join(",")}]}\n\n`;
      for (const [res, job] of this.watching) if (job === id) res.write(text);
    }));
  }

  /** Pushes each running job's progress that changed since the last tick. */
  private async progress(): Promise<void> {
    const ids = await unfinishedJobs(this.redis, this.keys);
    if (ids.length === 0) return;
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hmget(this.keys.job(id), "state", "progress");
    const rows = (await pipe.exec()) ?? [];
    const changed: Record<string, { state: string; progress?: JobProgress; figures?: ReturnType<typeof progressFigures> }> = {};
    const now = Date.now();
    ids.forEach((id, i) => {
      const [state, progress] = (rows[i]?.[1] as (string | null)[] | undefined) ?? [];
      const text = `${state}|${progress}`;
      if (!state || this.last.get(id) === text) return;
      this.last.set(id, text);
      try {
        const p = progress ? (JSON.parse(progress) as JobProgress) : undefined;
        changed[id] = { state, progress: p, figures: p ? progressFigures(p, now) : undefined };
      } catch {}
    });
    const live = new Set<string>(ids);
    for (const id of this.last.keys()) if (!live.has(id)) this.last.delete(id);
    if (Object.keys(changed).length) this.send("progress", changed);
  }

  private send(event: string, data: unknown): void {
    this.broadcast(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private broadcast(text: string): void {
    for (const res of this.clients) res.write(text);
  }

  close(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.watching.clear();
    this.idle();
  }
}
