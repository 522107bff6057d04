/** Helpers for tests that write and read sorted-run files (not a test file itself). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RunReader } from "../../../core/shuffle/run-reader.js";
import { RunWriter } from "../../../core/shuffle/run-writer.js";
import type { Segment } from "../../../core/shuffle/segment.js";

export interface Rec {
  key: string;
  value: unknown;
}

export function makeTempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "sheaf-unit-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes one segment per partition, in order; returns the segments and the size close() reported. */
export function writeRun(path: string, partitions: readonly (readonly Rec[])[]): { segments: Segment[]; size: number } {
  const w = new RunWriter(path);
  const segments: Segment[] = [];
  for (const recs of partitions) {
    w.beginSegment();
    for (const r of recs) w.write(r.key, r.value);
    segments.push({ path, ...w.endSegment() });
  }
  return { segments, size: w.close() };
}

/** Reads a whole segment back, decoding each value and keeping a copy of its raw bytes. */
export function readSegment(segment: Segment, chunkSize?: number): { recs: Rec[]; raws: Buffer[] } {
  const r = chunkSize === undefined ? new RunReader(segment) : new RunReader(segment, chunkSize);
  const recs: Rec[] = [];
  const raws: Buffer[] = [];
  try {
    while (r.next()) {
      recs.push({ key: r.key, value: r.value() });
      raws.push(Buffer.from(r.rawValue()));
    }
  } finally {
    r.close();
  }
  return { recs, raws };
}

/** Deep equality that tells -0 from 0, treats NaN as NaN and compares bigints, Maps and so on. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") return Object.is(a, b);
  if (typeof a !== typeof b) return false;
  if (a === null || b === null || typeof a !== "object") return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Map && b instanceof Map) return sameValue([...a], [...b]);
  if (a instanceof Set && b instanceof Set) return sameValue([...a], [...b]);
  if (a instanceof Date && b instanceof Date) return Object.is(a.getTime(), b.getTime());
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
  }
  const ka = Object.keys(a as object), kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k, i) => k === kb[i] && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** CRC-32 (IEEE, reflected, polynomial 0xEDB88320), bit by bit. */
export function crc32Oracle(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
