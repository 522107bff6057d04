/**
 * Writes sorted runs: one file, one segment per partition in partition order, each a sequence of
 * records `varint keyLength, key bytes, value`. Synchronous I/O: it runs on a dedicated thread.
 */
import { diskFull, SheafError } from "../errors.js";
import { closeSync, openSync, writeSync } from "node:fs";
import { crc32 } from "node:zlib";
import type { Segment } from "./segment.js";
import { encodedValueSize, encodeValueInto, writeVarint } from "./values.js";

const BUFFER_SIZE = 1 << 20;
/** Records up to this many bytes are copied by a loop: below it, Buffer#copy's call costs more than the copy (measured here: 16 bytes 3x, 48 even, 100 half). */
export const COPY_LOOP_MAX = 48;

export class RunWriter {
  private buf = Buffer.allocUnsafe(BUFFER_SIZE);
  private pos = 0;
  private fd: number;
  private fileOffset = 0;
  private segStart = 0;
  private segBufStart = 0;
  private segCrc = 0;
  private segRecords = 0;
  private inSegment = false;

  constructor(readonly path: string) {
    this.fd = openSync(path, "w");
  }

  beginSegment(): void {
    if (this.inSegment) throw new SheafError("INTERNAL", "RunWriter: segment already open");
    this.inSegment = true;
    this.segStart = this.fileOffset + this.pos;
    this.segBufStart = this.pos;
    this.segCrc = 0;
    this.segRecords = 0;
  }

  /** Appends a record whose key is already encoded (a binary string) and whose value is a JS value. */
  write(key: string, value: unknown): void {
    const size = encodedValueSize(value);
    const valueBytes = typeof size === "number" ? size : size.length + 6;
    this.ensure(5 + key.length + valueBytes);
    let p = writeVarint(this.buf, this.pos, key.length);
    p += this.buf.write(key, p, "latin1");
    this.pos = encodeValueInto(this.buf, p, value, typeof size === "number" ? undefined : size);
    this.segRecords++;
  }

  /** Appends a record whose value is already encoded (copied from another run). */
  writeRaw(key: string, value: Buffer): void {
    this.ensure(5 + key.length + value.length);
    let p = writeVarint(this.buf, this.pos, key.length);
    p += this.buf.write(key, p, "latin1");
    this.pos = p + value.copy(this.buf, p);
    this.segRecords++;
  }

  /** Appends one record already in its on-disk form (`varint keyLength, key, value`): bytes [start, end) of `src`. */
  writeEncoded(src: Buffer, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    const buf = this.buf;
    if (n <= COPY_LOOP_MAX) {
      const at = this.pos - start;
      for (let i = start; i < end; i++) buf[at + i] = src[i]!;
      this.pos += n;
    } else this.pos += src.copy(buf, this.pos, start, end);
    this.segRecords++;
  }

  endSegment(): Omit<Segment, "path"> {
    if (!this.inSegment) throw new SheafError("INTERNAL", "RunWriter: no segment open");
    this.segCrc = crc32(this.buf.subarray(this.segBufStart, this.pos), this.segCrc);
    this.segBufStart = this.pos;
    this.inSegment = false;
    const end = this.fileOffset + this.pos;
    return { offset: this.segStart, length: end - this.segStart, records: this.segRecords, crc: this.segCrc };
  }

  /** Flushes and closes; returns the file's size. No fsync: a run lost to a crash fails its CRC and the map task re-runs. */
  close(): number {
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
    return this.fileOffset;
  }

  /** Closes without syncing, for a failed attempt whose file will be removed. */
  abandon(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
  }

  private flush(): void {
    if (this.pos === 0) return;
    if (this.inSegment) this.segCrc = crc32(this.buf.subarray(this.segBufStart, this.pos), this.segCrc);
    let written = 0;
    try {
      while (written < this.pos) written += writeSync(this.fd, this.buf, written, this.pos - written);
    } catch (err) {
      throw diskFull(err, this.path, "its map output") ?? err;
    }
    this.fileOffset += this.pos;
    this.pos = 0;
    this.segBufStart = 0;
  }
}
