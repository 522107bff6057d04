// Types for groupby-kernel.mjs (plain JavaScript, so that the Node.js baseline can import it too).
import type { RecordBatch } from "apache-arrow";

export interface Acc {
  n: number;
  sum: number;
}

export class Interner {
  readonly names: string[];
  id(bytes: Uint8Array, start: number, end: number): number;
}

export function aggregateBatch(batch: RecordBatch, interner: Interner, groups: Map<number, Acc>[]): void;

export function forEachGroup(interner: Interner, groups: Map<number, Acc>[], f: (country: string, category: number, acc: Acc) => void): void;

export function mergeAccs(partials: Iterable<Acc>): Acc;
