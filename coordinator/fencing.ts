/**
 * The leader's fence, for every effect a leader makes: a Redis write is a Lua script that starts
 * with FENCE; a file-system effect (preparing, committing or aborting an output, deleting an
 * attempt's files or a job's scratch space) first passes GUARD, the same check with no write. A
 * stale leader — one that lost the lease, or whose lease may have run out while it was paused —
 * is refused with Interrupted, locally before asking Redis, and again after Redis answers (a pause
 * in between could have outlived the lease).
 */
import type { Redis } from "ioredis";
import { FENCE } from "../core/cluster/fence.js";
import type { Keys } from "../core/cluster/keys.js";
import { Interrupted } from "../engine/interrupted.js";

/** Who may act: the lease holder, the epoch it was granted, and whether its lease is still surely held. */
export interface Fence {
  holder: string;
  epoch: number;
  /** False once the lease may have expired by the local clock (see LeaderLease.isHeld). */
  held(): boolean;
}

/** Writes nothing: passes only for the current leader at its epoch. */
export const GUARD = FENCE + "return 1";

/** Runs a fenced script on `key` (KEYS[3]) and more keys; throws Interrupted, naming `what`, when refused. */
export async function fencedEval(redis: Redis, keys: Keys, fence: Fence, what: string, script: string, key: string[], ...args: string[]): Promise<unknown> {
  const refused = () => new Interrupted(`stale leader (epoch ${fence.epoch}): ${what} refused`);
  if (!fence.held()) throw refused();
  const r = await redis.eval(script, 2 + key.length, keys.leader, keys.epoch, ...key, fence.holder, String(fence.epoch), ...args);
  if (r === -1 || !fence.held()) throw refused();
  return r;
}

/** Passes when this coordinator still leads at its epoch, right before a file-system effect named `what`. */
export async function guardEffect(redis: Redis, keys: Keys, fence: Fence, what: string): Promise<void> {
  await fencedEval(redis, keys, fence, what, GUARD, []);
}
