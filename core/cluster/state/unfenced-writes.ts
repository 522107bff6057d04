/**
 * The writes that need no leader fence: queueing and cancelling a record (any client), pruning
 * finished records (retention: deleting what is past its bounds is right whoever does it), and the
 * lease itself, which only its holder may renew or give back.
 */
import type { Redis } from "ioredis";
import type { Keys } from "../keys.js";
import { runScript } from "./scripts.js";

/** Queues a job or run record: its spec, state `queued`, its place in `zset`, and the `submitted` event. */
export async function submitRecord(redis: Redis, key: string, zset: string, events: string, spec: { id: string; submittedAt: number }): Promise<void> {
  await runScript(redis, "submit", [key, zset, events], [spec.id, JSON.stringify(spec), spec.submittedAt]);
}

/** Cancels a job or run (cancel.lua); returns the state found, or undefined when there is no such record. */
export async function cancelRecord(redis: Redis, key: string, zset: string, events: string, id: string): Promise<string | undefined> {
  const state = (await runScript(redis, "cancel", [key, events, zset], [id, Date.now()])) as string | null;
  return state ?? undefined;
}

export interface RetentionBounds {
  /** Finished records kept, newest first. */
  keep: number;
  /** Finished records older than this (ms since they finished) go. */
  keepForMs: number;
}

/** Prunes finished records past `bounds`, at most `batch` (prune.lua); returns how many went. */
export async function pruneRecords(redis: Redis, keys: Keys, zset: string, keyOf: (id: string) => string, bounds: RetentionBounds, now = Date.now(), batch = 500): Promise<number> {
  return (await runScript(redis, "prune", [zset, keys.runs], [now - bounds.keepForMs, bounds.keep, batch, keyOf(""), keys.schedule("")])) as number;
}

/** Extends the lease by `leaseMs` if `holder` still holds it. */
export async function renewLease(redis: Redis, keys: Keys, holder: string, leaseMs: number): Promise<boolean> {
  return (await runScript(redis, "lease-renew", [keys.leader], [holder, leaseMs])) === 1;
}

/** Gives the lease back if `holder` holds it. */
export async function releaseLease(redis: Redis, keys: Keys, holder: string): Promise<void> {
  await runScript(redis, "lease-release", [keys.leader], [holder]);
}
