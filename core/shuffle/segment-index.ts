/**
 * A map output's table of segments (one per partition) lives in a small file beside it,
 * `<map output>.idx`, protected by a CRC-32. Results and reduce tasks carry only the map output's
 * path and that CRC, so neither Redis nor a task message grows with maps × partitions.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { crc32 } from "node:zlib";
import { CorruptSegmentError, type Segment } from "./segment.js";

export const segmentIndexPath = (mapOutput: string) => `${mapOutput}.idx`;

/** Per segment: offset, length, records (float64, exact below 2^53), then its CRC (uint32). */
const ENTRY = 28;

/** Writes the table; returns its CRC-32, which the map task's result carries. */
export function writeSegmentIndex(mapOutput: string, segments: readonly Omit<Segment, "path">[]): number {
  const buf = Buffer.alloc(4 + segments.length * ENTRY);
  buf.writeUInt32LE(segments.length, 0);
  segments.forEach((s, i) => {
    const at = 4 + i * ENTRY;
    buf.writeDoubleLE(s.offset, at);
    buf.writeDoubleLE(s.length, at + 8);
    buf.writeDoubleLE(s.records, at + 16);
    buf.writeUInt32LE(s.crc >>> 0, at + 24);
  });
  // No fsync, as for the runs (run-writer.ts): a table lost to a crash fails its CRC and the map task
  // re-runs. A sync per map task cost more than the rest of an empty task (0.7 ms of its ~1.5 ms).
  writeFileSync(segmentIndexPath(mapOutput), buf);
  return crc32(buf);
}

/**
 * Partition `p`'s segment of a map output. A table that is missing, of the wrong size or CRC is a
 * corrupt map output, blamed on `producer` (the map task to re-run).
 */
export function readSegment(mapOutput: string, p: number, partitions: number, indexCrc: number, producer?: string): Segment {
  const lost = (detail: string) => new CorruptSegmentError({ path: mapOutput, offset: 0, length: 0, records: 0, crc: 0, ...(producer ? { producer } : {}) }, `segment index ${detail}`);
  let buf: Buffer;
  try {
    buf = readFileSync(segmentIndexPath(mapOutput));
  } catch (err) {
    throw lost(`cannot be read: ${(err as Error).message}`);
  }
  if (crc32(buf) !== indexCrc) throw lost("fails its checksum");
  if (buf.length !== 4 + partitions * ENTRY || buf.readUInt32LE(0) !== partitions) throw lost(`does not hold ${partitions} partitions`);
  const at = 4 + p * ENTRY;
  return {
    path: mapOutput,
    offset: buf.readDoubleLE(at),
    length: buf.readDoubleLE(at + 8),
    records: buf.readDoubleLE(at + 16),
    crc: buf.readUInt32LE(at + 24),
    ...(producer ? { producer } : {}),
  };
}
