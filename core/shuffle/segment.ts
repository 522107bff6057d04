import { SheafError, type ErrorCode } from "../errors.js";

/** Where one partition's sorted run sits in a map output file, and how to check it. */
export interface Segment {
  /** Path of the file holding the run. */
  path: string;
  offset: number;
  length: number;
  records: number;
  /** CRC-32 of the segment's bytes. */
  crc: number;
  /** The task that wrote it, to re-run when the segment is found corrupt or missing. */
  producer?: string;
}

/** The error code for a checksum mismatch, a truncated file or an undecodable record. */
export const CORRUPT = "CORRUPT_INTERMEDIATE" satisfies ErrorCode;

/** Retryable, but by the task that wrote the segment (its `producer`), run again: see toFailure. */
export class CorruptSegmentError extends SheafError {
  constructor(readonly segment: Segment, detail: string) {
    super(CORRUPT, `corrupt intermediate file ${segment.path} (bytes ${segment.offset}+${segment.length}): ${detail}`, true);
  }
}
