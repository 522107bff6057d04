/** Calls into user code, turning what it throws into a UserCodeError that names the record or key. */
import type { Job } from "../core/api/job.js";
import type { Key, RecordLocation } from "../core/api/types.js";
import { SheafError, UserCodeError } from "../core/errors.js";
import { CorruptSegmentError } from "../core/shuffle/segment.js";
import type { Context } from "./context.js";

/** Errors of the engine's own (a corrupt run read inside a values iterator) pass through unwrapped. */
export function wrapUserError(where: string, input: (RecordLocation & { key?: string }) | undefined, err: unknown): Error {
  if (err instanceof SheafError || err instanceof CorruptSegmentError) return err;
  return new UserCodeError(where, input, err);
}

export function displayKey(key: Key): string {
  const text = JSON.stringify(key, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)) ?? String(key);
  return text.length > 200 ? text.slice(0, 200) + "…" : text;
}

export function checkOutputKey(key: unknown): asserts key is Key {
  const t = typeof key;
  if (t === "string" || t === "number" || t === "bigint" || t === "boolean" || Array.isArray(key)) return;
  throw new TypeError(`a key must be a string, number, bigint, boolean or an array of those, got ${key === null ? "null" : t}`);
}

export function makePartitioner(job: Job, n: number): ((key: Key) => number) | undefined {
  const user = job.partitioner;
  if (!user) return undefined;
  return (key) => {
    const p = user(key, n);
    if (!Number.isInteger(p) || p < 0 || p >= n) throw new RangeError(`partitioner returned ${String(p)} for key ${displayKey(key)}; expected an integer in [0, ${n})`);
    return p;
  };
}

export function makeCombiner(job: Job, ctx: Context) {
  const combine = job.combine;
  if (!combine) return undefined;
  return (key: Key, values: Iterable<unknown>): unknown => {
    try {
      return combine(key, values, ctx);
    } catch (err) {
      throw wrapUserError("combine", { file: "", offset: 0, key: displayKey(key) }, err);
    }
  };
}

/** Runs setup or cleanup, naming the hook when it throws. */
export function runHook(job: Job, hook: "setup" | "cleanup", ctx: Context): void {
  const fn = job[hook];
  if (!fn) return;
  try {
    fn(ctx);
  } catch (err) {
    throw wrapUserError(hook, undefined, err);
  }
}
