/** Messages and records refused by a check: logged with what names them, and counted in Redis by reason. */
import type { Redis } from "ioredis";
import type { Keys } from "../cluster/keys.js";
import { SheafError, type ErrorCode } from "../errors.js";

/** A message or record that failed a check (signature, schema, bounds, liveness): never run. */
export class Rejected extends SheafError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
  }
}

export async function countRejection(redis: Redis, keys: Keys, code: string): Promise<void> {
  await redis.hincrby(keys.rejected, code, 1);
}

/** Rejections so far by reason, for `status`. */
export async function readRejections(redis: Redis, keys: Keys): Promise<Record<string, number>> {
  const h = await redis.hgetall(keys.rejected);
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
}
