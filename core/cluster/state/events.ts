/**
 * The cluster's events, on the `Keys.events` pub/sub channel: a typed union with one encoder and one
 * decoder. On the wire an event is `<kind> <subject>`, the form the Lua scripts publish too
 * (records.lua, cancel.lua). Events only wake listeners early: each listener also polls, so a lost
 * event costs time, never a result.
 */
import type { Redis } from "ioredis";
import type { Keys } from "../keys.js";

export type ClusterEvent =
  /** A job or run record was queued. */
  | { kind: "submitted"; id: string }
  /** A job or run ended (any state). */
  | { kind: "finished"; id: string }
  /** Stop a job's or run's work: cancelled, or ended while attempts may still run. */
  | { kind: "cancel"; id: string }
  /** Stop one task run (its BullMQ id): a backup lost, or its job ended. */
  | { kind: "stop"; id: string }
  /** A schedule's due times were queued (backfill). */
  | { kind: "schedule"; id: string };

const KINDS = new Set<ClusterEvent["kind"]>(["submitted", "finished", "cancel", "stop", "schedule"]);

export function encodeEvent(event: ClusterEvent): string {
  return `${event.kind} ${event.id}`;
}

/** The event in `message`, or undefined for one this version does not know (a newer peer's). */
export function decodeEvent(message: string): ClusterEvent | undefined {
  const space = message.indexOf(" ");
  const kind = message.slice(0, space) as ClusterEvent["kind"];
  if (space <= 0 || !KINDS.has(kind)) return undefined;
  return { kind, id: message.slice(space + 1) } as ClusterEvent;
}

/** Publishes `event` on the cluster's events channel. */
export async function publishEvent(redis: Pick<Redis, "publish">, keys: Keys, event: ClusterEvent): Promise<void> {
  await redis.publish(keys.events, encodeEvent(event));
}
