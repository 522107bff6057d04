/**
 * The coordinator leader lease: `SET NX PX` on one key, renewed while held, with an `INCR` epoch
 * per acquisition (a fencing token). Standbys retry until the holder stops renewing.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Keys } from "../core/cluster/keys.js";

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

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

  constructor(private readonly redis: Redis, private readonly keys: Keys, options: LeaseOptions = {}) {
    this.leaseMs = options.leaseMs ?? 5000;
  }

  get isHeld(): boolean {
    return this.held;
  }

  /** Waits until this process holds the lease, then keeps renewing it; `onLost` runs if a renewal fails. */
  async acquire(signal: AbortSignal, onLost: () => void): Promise<boolean> {
    while (!signal.aborted) {
      const ok = await this.redis.set(this.keys.leader, this.holder, "PX", this.leaseMs, "NX").catch(() => null);
      if (ok === "OK") {
        this.epoch = await this.redis.incr(this.keys.epoch);
        this.held = true;
        this.timer = setInterval(() => void this.renew(onLost), Math.floor(this.leaseMs / 3));
        return true;
      }
      await new Promise((r) => setTimeout(r, Math.floor(this.leaseMs / 5)));
    }
    return false;
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.held) await this.redis.eval(RELEASE, 1, this.keys.leader, this.holder).catch(() => {});
    this.held = false;
  }

  private async renew(onLost: () => void): Promise<void> {
    const ok = await this.redis.eval(RENEW, 1, this.keys.leader, this.holder, String(this.leaseMs)).catch(() => 0);
    if (ok === 1 || !this.held) return;
    this.held = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    onLost();
  }
}
