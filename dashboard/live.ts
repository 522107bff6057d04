/**
 * Live updates for the pages (server-sent events at `/events`), driven by the cluster's events
 * channel (core/cluster/state/events.ts): a job or run submitted, finished or cancelled, a
 * schedule's due times queued, each pushed to every open page at once. Progress is not published
 * on the channel (the leader writes it to the record, throttled), so while a page is open and a job
 * runs, one timer per server reads the running jobs' progress every TICK_MS and pushes what
 * changed, with its rates and ETA (the pages update their rows in place, reading nothing more): a
 * cost that does not grow with the number of pages, and nothing at all when none is open.
 */
import type { ServerResponse } from "node:http";
import type { Redis } from "ioredis";
import { unfinishedJobs } from "../core/cluster/jobs.js";
import type { Keys } from "../core/cluster/keys.js";
import { decodeEvent } from "../core/cluster/state/events.js";
import type { JobProgress } from "../core/progress.js";
import { progressFigures } from "../runner/status-data.js";

const TICK_MS = 1_000;
/** A comment line now and then keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 20_000;

export class LiveUpdates {
  private readonly clients = new Set<ServerResponse>();
  private ticker: NodeJS.Timeout | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private subscribed = false;
  private readonly last = new Map<string, string>();
  private ticking = false;

  /** `sub`: a connection of its own (subscribed, it can do nothing else); `redis` for the reads. */
  constructor(private readonly redis: Redis, private readonly sub: Redis, private readonly keys: Keys) {
    this.sub.on("message", (_channel: string, message: string) => {
      const event = decodeEvent(message);
      if (event && event.kind !== "stop") this.send("cluster", event);
    });
  }

  /** Streams events to `res` until its page goes. */
  open(res: ServerResponse): void {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
    res.write("retry: 2000\n\n");
    this.clients.add(res);
    res.on("close", () => {
      this.clients.delete(res);
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
    if (this.subscribed) {
      this.subscribed = false;
      void this.sub.unsubscribe(this.keys.events).catch(() => {});
    }
  }

  /** Pushes each running job's progress that changed since the last tick. */
  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
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
    } catch {
      // Redis unreachable for now: the next tick tries again.
    } finally {
      this.ticking = false;
    }
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
    this.idle();
  }
}
