/**
 * Notifications (`--notify URL`) waiting to be delivered, in Redis so that a new leader delivers
 * what the last one had not:
 *
 * - `<prefix>:notification:<delivery>`: JSON `Delivery` (the event, the URL, attempts so far),
 *   created with SET NX, so one event is queued once per URL whichever leader (or how many scans)
 *   saw it; kept a week after it is delivered or given up, so it is not queued again;
 * - `<prefix>:notifications`: sorted set of the deliveries still to try, scored by when to try next;
 * - `<prefix>:notification:<delivery>:taken`: held (PX) by the pass POSTing it, so no other takes it meanwhile.
 *
 * The delivery id is `<event>:<id>:<url hash>`, and goes to the receiver as `eventId` (and the
 * X-Sheaf-Event-Id header): a receiver that keeps them can drop the rare repeat (a leader that died
 * between a POST and recording it).
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import * as v from "valibot";
import type { Keys } from "./keys.js";

export const NOTIFY_EVENTS = ["job.failed", "run.failed", "run.succeeded", "schedule.late"] as const;

export const NotifyEventSchema = v.object({
  event: v.picklist(NOTIFY_EVENTS),
  eventId: v.string(),
  /** The job's or run's id, and its name (the job's, or the pipeline's). */
  id: v.string(),
  name: v.string(),
  schedule: v.optional(v.string()),
  error: v.optional(v.string()),
  /** Its page on the dashboard, when the coordinator knows its public address (`--public-url`). */
  url: v.optional(v.string()),
  /** When the event happened (ISO). */
  at: v.string(),
  /** One line for a person, so a Slack incoming webhook shows the event as it is. */
  text: v.string(),
});
export type NotifyEvent = v.InferOutput<typeof NotifyEventSchema>;

const DeliverySchema = v.object({
  event: NotifyEventSchema,
  target: v.string(),
  attempts: v.number(),
  state: v.picklist(["pending", "delivered", "abandoned"]),
  lastError: v.optional(v.string()),
});
export type Delivery = v.InferOutput<typeof DeliverySchema>;

/** Kept this long after the last change: long enough that a finished job is never notified twice. */
const KEEP_S = 7 * 86_400;

/** The delivery id of `eventId` to `target`. */
export function deliveryId(eventId: string, target: string): string {
  return `${eventId}:${createHash("sha256").update(target).digest("hex").slice(0, 12)}`;
}

/** Queues `event` for each target, once per (event, target) ever; resolves with how many were new. */
export async function queueNotification(redis: Redis, keys: Keys, event: NotifyEvent, targets: readonly string[], now = Date.now()): Promise<number> {
  let queued = 0;
  for (const target of new Set(targets)) {
    const id = deliveryId(event.eventId, target);
    const delivery: Delivery = { event, target, attempts: 0, state: "pending" };
    const fresh = await redis.set(keys.notification(id), JSON.stringify(delivery), "EX", KEEP_S, "NX");
    if (fresh !== "OK") continue;
    await redis.zadd(keys.notifications, now, id);
    queued++;
  }
  return queued;
}

/** Whether an event was queued already (to any target): lets a scan skip what it saw before. */
export async function wasQueued(redis: Redis, keys: Keys, eventId: string, target: string): Promise<boolean> {
  return (await redis.exists(keys.notification(deliveryId(eventId, target)))) === 1;
}

/**
 * Up to `limit` deliveries due by `now`, each pushed `leaseMs` into the future first, so another
 * pass (or a leader in the moment of a failover) does not take it at the same time.
 */
export async function takeDue(redis: Redis, keys: Keys, now: number, limit: number, leaseMs: number): Promise<{ id: string; delivery: Delivery }[]> {
  const ids = await redis.zrangebyscore(keys.notifications, "-inf", String(now), "LIMIT", 0, limit);
  const out: { id: string; delivery: Delivery }[] = [];
  for (const id of ids) {
    // One taker per lease (two leaders for a moment, or two passes): the claim, then the score pushed out.
    if ((await redis.set(`${keys.notification(id)}:taken`, "1", "PX", leaseMs, "NX")) !== "OK") continue;
    if ((await redis.zadd(keys.notifications, "XX", "CH", now + leaseMs, id)) !== 1) continue; // settled meanwhile
    const text = await redis.get(keys.notification(id));
    const parsed = text ? v.safeParse(DeliverySchema, JSON.parse(text)) : undefined;
    if (!parsed?.success || parsed.output.state !== "pending") {
      await redis.zrem(keys.notifications, id);
      continue;
    }
    out.push({ id, delivery: parsed.output });
  }
  return out;
}

/** Records a delivery's outcome: delivered or abandoned (off the pending set), or to try again at `retryAt`. */
export async function settle(redis: Redis, keys: Keys, id: string, delivery: Delivery, retryAt?: number): Promise<void> {
  const multi = redis.multi().set(keys.notification(id), JSON.stringify(delivery), "EX", KEEP_S).del(`${keys.notification(id)}:taken`);
  if (retryAt === undefined) multi.zrem(keys.notifications, id);
  else multi.zadd(keys.notifications, retryAt, id);
  await multi.exec();
}
