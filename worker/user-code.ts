/** Calls into user code, turning what it throws into a UserCodeError that names the record or key. */
import type { Job } from "../core/api/job.js";
import type { Key, RecordLocation } from "../core/api/types.js";
import { diskFull, SheafError, UserCodeError } from "../core/errors.js";
import { CorruptSegmentError } from "../core/shuffle/segment.js";
import type { Context } from "./context.js";
import { showKey } from "../core/show.js";

/**
 * Errors of the engine's own (a corrupt run read inside a values iterator) pass through unwrapped;
 * so does a full disk met while the engine writes what `where` emitted (a spill, a part file): it is
 * no record's fault, is not a bad record to skip, and another attempt (elsewhere) may have room.
 */
export function wrapUserError(where: string, input: (RecordLocation & { key?: string }) | undefined, err: unknown): Error {
  if (err instanceof SheafError || err instanceof CorruptSegmentError) return err;
  const full = diskFull(err, undefined, where === "reduce" || where === "cleanup" ? "its output" : "its output and spills");
  if (full) return full;
  return new UserCodeError(where, input, err);
}

/** A key in an error message: see showKey. */
export const displayKey: (key: Key) => string = showKey;

export function checkOutputKey(key: unknown): asserts key is Key {
  const t = typeof key;
  if (t === "string" || t === "number" || t === "bigint" || t === "boolean" || Array.isArray(key)) return;
  throw new TypeError(`a key must be a string, number, bigint, boolean or an array of those, got ${key === null ? "null" : t}`);
}

/** A partitioner over (key, its encoding); `ofBytes`, where given, partitions an encoding where it lies. */
export interface Partitioner {
  (key: Key, ek: string): number;
  ofBytes?: (bytes: Uint8Array, at: number, length: number) => number;
}

/** The job's partitioner, or undefined for the default hash. */
export function makePartitioner(job: Job, n: number, rangeBoundaries?: readonly string[]): Partitioner | undefined {
  const user = job.partitioner;
  if (!user) return undefined;
  if (user === "range") return rangePartitioner(rangeBoundaries ?? []);
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

/** Partition of an encoding: how many boundaries are at or below it (binary search). Equal keys never split. */
function rangePartitioner(base64: readonly string[]): Partitioner {
  const bounds = base64.map((b) => Buffer.from(b, "base64"));
  const latin1 = bounds.map((b) => b.toString("latin1"));
  const partitioner: Partitioner = (_key, ek) => countAtOrBelow(bounds.length, (i) => latin1[i]! <= ek);
  // The same on the bytes of an encoding already written to the map's buffer (no string made for it).
  partitioner.ofBytes = (bytes, at, length) => countAtOrBelow(bounds.length, (i) => compareBytes(bounds[i]!, bytes, at, length) <= 0);
  return partitioner;
}

/** How many of n sorted boundaries `atOrBelow` holds for (it holds for a prefix of them). */
function countAtOrBelow(n: number, atOrBelow: (i: number) => boolean): number {
  let lo = 0, hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (atOrBelow(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** `a` against bytes [at, at + length) of `b`, in byte order. */
function compareBytes(a: Uint8Array, b: Uint8Array, at: number, length: number): number {
  const n = Math.min(a.length, length);
  for (let k = 0; k < n; k++) {
    const d = a[k]! - b[at + k]!;
    if (d !== 0) return d;
  }
  return a.length - length;
}

/** Runs setup or cleanup, naming the hook when it throws; an async one is awaited. */
export async function runHook(job: Job, hook: "setup" | "cleanup", ctx: Context): Promise<void> {
  const fn = job[hook];
  if (!fn) return;
  try {
    await fn(ctx);
  } catch (err) {
    throw wrapUserError(hook, undefined, err);
  }
}

/**
 * Refuses what an async `map` or `reduce` returns, a promise: awaiting one per record would cost a
 * microtask each (and its emits would land after the record's), and ignoring it would lose them or
 * write `{}`. `mapBatch` is awaited, once per batch: the place for asynchronous work.
 */
export function refuseAsync(where: "map" | "reduce", result: unknown): void {
  if (typeof (result as { then?: unknown } | null | undefined)?.then !== "function") return;
  (result as Promise<unknown>).catch?.(() => {}); // its rejection is this error's business now
  throw new SheafError("ASYNC_USER_CODE", `${where} returned a promise: an async ${where} is not supported (its work would be lost); make it synchronous, or do asynchronous work in mapBatch, which is awaited`);
}
