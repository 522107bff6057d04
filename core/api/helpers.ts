/** Helpers for reduce and combine: each iterates its values once, so they stream. */

export function sum(values: Iterable<number>): number;
export function sum(values: Iterable<bigint>): bigint;
export function sum(values: Iterable<number | bigint>): number | bigint {
  let total: number | bigint | undefined;
  for (const v of values) total = total === undefined ? v : (total as number) + (v as number);
  return total ?? 0;
}

export function count(values: Iterable<unknown>): number {
  let n = 0;
  for (const _ of values) n++;
  return n;
}

export function min<T extends number | bigint | string>(values: Iterable<T>): T | undefined {
  let best: T | undefined;
  for (const v of values) if (best === undefined || v < best) best = v;
  return best;
}

export function max<T extends number | bigint | string>(values: Iterable<T>): T | undefined {
  let best: T | undefined;
  for (const v of values) if (best === undefined || v > best) best = v;
  return best;
}

/** Collects the values into an array: only for keys known to have few values. */
export function toArray<T>(values: Iterable<T>): T[] {
  return Array.from(values);
}
