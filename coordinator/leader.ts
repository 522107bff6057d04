/**
 * The coordinator leader lease: `SET NX PX` on one key, renewed while held, with an `INCR` epoch
 * per acquisition (a fencing token). Standbys retry until the holder stops renewing.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Keys } from "../core/cluster/keys.js";
import { releaseLease, renewLease } from "../core/cluster/state/unfenced-writes.js";
import { SheafError } from "../core/errors.js";
import { SERVICE_DEFAULTS } from "../core/defaults.js";


export interface LeaseOptions {
  /** Lease length; a dead leader is replaced within about this long. @defaultValue 5000 */
  leaseMs?: number;
}

export class LeaderLease {
  readonly holder = `${process.pid}-${randomUUID().slice(0, 8)}`;
  readonly leaseMs: number;
  epoch = 0;
  private timer: NodeJS.Timeout | undefined;
  private held = false;
  /** Until when the lease is known to be ours: the send time of the last confirmed SET or renewal, plus the lease. */
  private confirmedUntil = 0;
  private renewing = false;
  /** Fires when the lease may run out unconfirmed: the leader steps down then, not at the next renewal tick. */
  private watchdog: NodeJS.Timeout | undefined;

  /** `redis` should be a connection of the lease's own whose commands fail rather than wait (see Coordinator). */
  constructor(private readonly redis: Redis, private readonly keys: Keys, options: LeaseOptions = {}) {
    this.leaseMs = options.leaseMs ?? SERVICE_DEFAULTS.leaseMs;
  }

  /** Surely held by the local clock: with the same margin for clock drift as the watchdog's. */
  get isHeld(): boolean {
    return this.held && Date.now() < this.confirmedUntil - this.leaseMs / 10;
  }

  /** Waits until this process holds the lease, then keeps renewing it; `onLost` runs when it can no longer be sure it does. */
  async acquire(signal: AbortSignal, onLost: () => void): Promise<boolean> {
    while (!signal.aborted) {
      const sentAt = Date.now();
      const ok = await this.timed(this.redis.set(this.keys.leader, this.holder, "PX", this.leaseMs, "NX")).catch(() => null);
      if (ok === "OK") {
        const epoch = await this.timed(this.redis.incr(this.keys.epoch)).catch(() => undefined);
        if (epoch === undefined) {
          await this.timed(releaseLease(this.redis, this.keys, this.holder)).catch(() => {});
          continue;
        }
        this.epoch = epoch;
        this.held = true;
        this.confirm(sentAt, onLost);
        this.timer = setInterval(() => void this.renew(onLost), Math.floor(this.leaseMs / 3));
        return true;
      }
      await new Promise((r) => setTimeout(r, Math.floor(this.leaseMs / 5)));
    }
    return false;
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    clearTimeout(this.watchdog);
    this.timer = undefined;
    if (this.held) await this.timed(releaseLease(this.redis, this.keys, this.holder)).catch(() => {});
    this.held = false;
  }

  /**
   * Renews the lease. A renewal that fails or hangs (Redis unreachable) is tried again at the next
   * tick, but once the lease may have expired unconfirmed, the leader steps down: a leader cut off
   * from Redis must not go on believing it leads while another takes over.
   */
  private async renew(onLost: () => void): Promise<void> {
    if (!this.held) return;
    // A tenth of the lease as margin for clock drift between this process and Redis.
    if (Date.now() >= this.confirmedUntil - this.leaseMs / 10) return this.stepDown(onLost);
    if (this.renewing) return;
    this.renewing = true;
    const sentAt = Date.now();
    try {
      const ok = await this.timed(renewLease(this.redis, this.keys, this.holder, this.leaseMs)).catch(() => undefined);
      if (!this.held) return;
      if (ok === true) this.confirm(sentAt, onLost);
      else if (ok === false) this.stepDown(onLost); // another holds it
    } finally {
      this.renewing = false;
    }
  }

  /** The lease is ours until `sentAt` + lease (a tenth of it kept as margin for clock drift). */
  private confirm(sentAt: number, onLost: () => void): void {
    this.confirmedUntil = sentAt + this.leaseMs;
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.stepDown(onLost), Math.max(0, this.confirmedUntil - this.leaseMs / 10 - Date.now()));
  }

  private stepDown(onLost: () => void): void {
    if (!this.held) return;
    clearTimeout(this.watchdog);
    this.held = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    onLost();
  }

  /** A lease command that takes longer than a third of the lease counts as failed. */
  private timed<T>(command: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SheafError("REDIS_UNREACHABLE", "lease command timed out")), Math.floor(this.leaseMs / 3));
    });
    return Promise.race([command, timeout]).finally(() => clearTimeout(timer));
  }
}
