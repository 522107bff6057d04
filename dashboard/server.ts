/**
 * `sheaf coordinator --http HOST:PORT`: the dashboard's pages (static files beside this module),
 * the JSON API they read (views.ts), live updates (live.ts), the token-guarded actions, and
 * `/metrics` (metrics.ts). Everything is read from Redis, so every coordinator serves it, a standby
 * too, and it survives a failover. Who may do what: access.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { cancelJob } from "../core/cluster/jobs.js";
import { Keys, TASK_QUEUE } from "../core/cluster/keys.js";
import { connectRedis } from "../core/cluster/redis.js";
import { cancelRun, isRunId } from "../core/cluster/runs.js";
import { listWorkers } from "../core/cluster/workers.js";
import { messageOf, SheafError } from "../core/errors.js";
import type { JobId } from "../core/ids.js";
import { backfill, pauseSchedule, resumeSchedule } from "../runner/schedule.js";
import { Access, ACTION_HEADER, parseListen, TOKEN_COOKIE } from "./access.js";
import { LiveUpdates } from "./live.js";
import { ClusterMetrics } from "./metrics.js";
import { SharedReads } from "./shared-reads.js";
import { jobSince, jobView, overviewView, runView, schedulesView } from "./views.js";

export interface DashboardOptions {
  redisUrl: string;
  /** @defaultValue "sheaf" */
  prefix?: string;
  /** `HOST:PORT` to listen on (port 0: any free one). */
  listen: string;
  /** @defaultValue `SHEAF_UI_TOKEN` */
  token?: string;
  log?: (message: string) => void;
}

const STATIC = join(dirname(fileURLToPath(import.meta.url)), "static");
const FILES: Record<string, string> = { "/app.js": "text/javascript", "/style.css": "text/css", "/index.html": "text/html" };
/** Paths that are pages: each serves index.html, whose script draws the page the path names. */
const PAGES = /^\/(?:|jobs|schedules|workers|jobs\/[^/]+|runs\/[^/]+)$/;
const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};
const BODY_LIMIT = 16 * 1024;

export class DashboardServer {
  private readonly keys: Keys;
  private readonly access: Access;
  private readonly log: (m: string) => void;
  private server: Server | undefined;
  private redis!: Redis;
  private sub!: Redis;
  private queue!: Queue;
  private live!: LiveUpdates;
  private metrics!: ClusterMetrics;
  private readonly shared = new SharedReads();
  private readonly listen: { host: string; port: number };

  constructor(private readonly options: DashboardOptions) {
    this.keys = new Keys(options.prefix ?? "sheaf");
    this.listen = parseListen(options.listen);
    this.access = new Access(this.listen.host, "token" in options ? options.token : process.env.SHEAF_UI_TOKEN || undefined);
    this.log = options.log ?? ((m) => process.stderr.write(`dashboard: ${m}\n`));
  }

  /** Listens; resolves to the address (`http://host:port`). */
  async start(): Promise<string> {
    this.redis = connectRedis(this.options.redisUrl, "dashboard");
    this.sub = connectRedis(this.options.redisUrl, "dashboard-events");
    this.queue = new Queue(TASK_QUEUE, { connection: this.redis, prefix: this.keys.prefix });
    this.live = new LiveUpdates(this.redis, this.sub, this.keys, () => this.shared.clear());
    this.metrics = new ClusterMetrics(this.redis, this.keys, this.queue);
    const server = (this.server = createServer((req, res) => void this.handle(req, res)));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.listen.port, this.listen.host, () => resolve());
    });
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : this.listen.port;
    const host = this.listen.host.includes(":") ? `[${this.listen.host}]` : this.listen.host;
    const url = `http://${host}:${port}`;
    this.log(`serving the dashboard and /metrics on ${url}${this.access.hasToken ? " (token set: actions enabled)" : " (no SHEAF_UI_TOKEN: read-only, loopback only)"}`);
    return url;
  }

  async stop(): Promise<void> {
    this.live?.close();
    const server = this.server;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections(); // keep-alive sockets would hold close() open
      await closed;
    }
    await this.queue?.close().catch(() => {});
    this.sub?.disconnect();
    this.redis?.disconnect();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? "/", "http://dashboard");
      const path = url.pathname;
      // `?token=` once: set as a cookie (HttpOnly, this site only), then the same page without it.
      const given = url.searchParams.get("token");
      if (given !== null && req.method === "GET") {
        if (!this.access.matches(given)) return this.refuse(res, 401, "wrong token");
        url.searchParams.delete("token");
        res.writeHead(303, { location: url.pathname + url.search, "set-cookie": `${TOKEN_COOKIE}=${encodeURIComponent(given)}; HttpOnly; SameSite=Strict; Path=/`, ...SECURITY_HEADERS });
        return void res.end();
      }
      if (req.method === "POST") {
        const refusal = this.access.actionRefusal(req);
        if (refusal) return this.refuse(res, 403, refusal);
        const done = await this.act(path, await body(req));
        this.shared.clear();
        return this.json(res, 200, done);
      }
      if (req.method !== "GET" && req.method !== "HEAD") return this.refuse(res, 405, "GET or POST only");
      const refusal = this.access.readRefusal(req);
      if (refusal) return this.refuse(res, 401, refusal);
      if (path === "/metrics") {
        const text = await this.metrics.scrape();
        res.writeHead(200, { "content-type": this.metrics.contentType, "cache-control": "no-store" });
        return void res.end(text);
      }
      if (path === "/events") return this.live.open(res, url.searchParams.get("job") ?? undefined);
      if (path === "/favicon.ico") return void res.writeHead(204).end();
      if (path.startsWith("/api/")) return await this.api(path.slice(5), url.searchParams, req, res);
      const file = PAGES.test(path) ? "/index.html" : path;
      const type = FILES[file];
      if (!type) return this.refuse(res, 404, "no such page");
      res.writeHead(200, { "content-type": `${type}; charset=utf-8`, "cache-control": "no-cache", ...SECURITY_HEADERS });
      res.end(await readFile(join(STATIC, file.slice(1))));
    } catch (err) {
      const status = err instanceof SheafError && /^(NO_SUCH|BAD_|INVALID|BACKFILL)/.test(err.code) ? 400 : 500;
      if (status === 500) this.log(`${req.method} ${req.url}: ${messageOf(err)}`);
      if (!res.headersSent) this.json(res, status, { error: messageOf(err), ...(err instanceof SheafError ? { code: err.code } : {}) });
      else res.end();
    }
  }

  /** The reads; the same one asked again within a second (by any page) is answered from SharedReads. */
  private async api(path: string, query: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [kind, rawId] = path.split("/");
    const id = rawId === undefined ? undefined : decodeURIComponent(rawId);
    if (kind === "session") return this.json(res, 200, { actions: this.access.hasToken && this.access.matches(this.access.tokenOf(req)), actionHeader: ACTION_HEADER });
    const from = query.get("from");
    let read: (() => Promise<unknown>) | undefined;
    if (kind === "overview") {
      const limit = Math.min(200, Math.max(1, Number(query.get("limit")) || 50));
      read = () => overviewView(this.redis, this.keys, limit);
    } else if (kind === "jobs" && id && from !== null) read = () => jobSince(this.redis, this.keys, id, Math.max(0, Math.floor(Number(from)) || 0));
    else if (kind === "jobs" && id) read = () => jobView(this.redis, this.keys, id);
    else if (kind === "runs" && id) read = () => runView(this.redis, this.keys, id);
    else if (kind === "schedules") read = () => schedulesView(this.redis, this.keys);
    else if (kind === "workers") read = async () => ({ now: Date.now(), workers: await listWorkers(this.redis, this.keys), queue: await this.queue.getJobCounts("wait", "prioritized", "active", "delayed") });
    const text = read && (await this.shared.json(`${kind}/${id ?? ""}?${query.get("limit") ?? ""}&${from ?? ""}`, read));
    if (text === undefined) return this.json(res, 404, { error: `nothing at /api/${path}` });
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...SECURITY_HEADERS });
    res.end(text);
  }

  /** The actions, through the same functions the CLI and the runner API call. */
  private async act(path: string, body: Record<string, unknown>): Promise<unknown> {
    const parts = path.split("/").map(decodeURIComponent);
    const [, api, kind, id, verb] = parts;
    if (api !== "api" || !id || parts.length !== 5) throw new SheafError("BAD_ARGUMENT", `no action at ${path}`);
    if (kind === "jobs" && verb === "cancel" && !isRunId(id)) return { id, state: (await cancelJob(this.redis, this.keys, id as JobId)) ?? null };
    if (kind === "runs" && verb === "cancel" && isRunId(id)) return { id, state: (await cancelRun(this.redis, this.keys, id)) ?? null };
    if (kind === "schedules" && verb === "pause") {
      await pauseSchedule(this.redis, this.keys, id);
      return { schedule: id, state: "paused" };
    }
    if (kind === "schedules" && verb === "resume") {
      await resumeSchedule(this.redis, this.keys, id);
      return { schedule: id, state: "active" };
    }
    if (kind === "schedules" && verb === "backfill") {
      const { from, to, rerunFailed } = body;
      if (typeof from !== "string" || typeof to !== "string") throw new SheafError("BAD_ARGUMENT", "backfill needs from and to (ISO times)");
      return { schedule: id, queued: await backfill(this.redis, this.keys, id, from, to, { rerunFailed: rerunFailed === true }) };
    }
    throw new SheafError("BAD_ARGUMENT", `no action at ${path}`);
  }

  private json(res: ServerResponse, status: number, data: unknown): void {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...SECURITY_HEADERS });
    res.end(JSON.stringify(data));
  }

  private refuse(res: ServerResponse, status: number, why: string): void {
    this.json(res, status, { error: why });
  }
}

/** A small JSON body (an action's arguments). */
async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of req) {
    text += chunk;
    if (text.length > BODY_LIMIT) throw new SheafError("BAD_ARGUMENT", "request body too large");
  }
  if (!text.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SheafError("BAD_ARGUMENT", "request body is not JSON");
  }
  return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
}
