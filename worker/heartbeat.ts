/**
 * This worker's heartbeat in Redis (core/cluster/workers.ts): host, pid, threads, the attempts it
 * runs, memory and version, every SERVICE_DEFAULTS.heartbeatMs. A missed beat (Redis away) is
 * only logged once; the next one is sent on time.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import { SERVICE_DEFAULTS } from "../core/defaults.js";
import { messageOf } from "../core/errors.js";
import type { Keys } from "../core/cluster/keys.js";
import { publishBeat, removeBeat, type WorkerBeat } from "../core/cluster/workers.js";
import type { Logger } from "../core/log.js";
import { sheafVersion } from "../core/version.js";

/** Attempts listed by name in a beat; the count covers them all. */
const LISTED = 50;

export class Heartbeat {
  readonly id = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  /** Attempts running now, `<job>/<task>#<attempt>`, each with how many times it was added (a batch may hold one task twice). */
  private readonly running = new Map<string, number>();
  private readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private failing = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly threads: number,
    private readonly log: Logger,
    private readonly intervalMs = SERVICE_DEFAULTS.heartbeatMs,
  ) {}

  start(): Promise<void> {
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
    return this.beat();
  }

  add(name: string): void {
    this.running.set(name, (this.running.get(name) ?? 0) + 1);
  }

  delete(name: string): void {
    const n = (this.running.get(name) ?? 0) - 1;
    if (n > 0) this.running.set(name, n);
    else this.running.delete(name);
  }

  private async beat(): Promise<void> {
    const memory = process.memoryUsage();
    const beat: WorkerBeat = {
      id: this.id,
      host: hostname(),
      pid: process.pid,
      threads: this.threads,
      running: [...this.running.keys()].slice(0, LISTED),
      runningCount: [...this.running.values()].reduce((a, b) => a + b, 0),
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      version: sheafVersion(),
      startedAt: this.startedAt,
      at: Date.now(),
    };
    try {
      await publishBeat(this.redis, this.keys, beat, 3 * this.intervalMs);
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.log(`cannot publish the heartbeat: ${messageOf(err)}`, { level: "warn" });
      this.failing = true;
    }
  }

  /** Stops beating and leaves the list of live workers. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await removeBeat(this.redis, this.keys, this.id).catch(() => {});
  }
}
