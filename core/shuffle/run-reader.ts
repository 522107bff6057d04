/** Streams the records of one segment, checking its length and CRC-32 as it goes. */
import { closeSync, openSync, readSync } from "node:fs";
import { crc32 } from "node:zlib";
import { CorruptSegmentError, type Segment } from "./segment.js";
import { decodeValue, readVarint, valueEnd, varintEnd } from "./values.js";

const CHUNK = 256 << 10;
/** Key bytes in `head`: six fit a double exactly. */
const HEAD = 6;

export class RunReader {
  /** The current record's encoded key (valid after next() returned true). */
  key = "";
  /**
   * Its first HEAD bytes as one number, zero past its end: a merge compares these first and the
   * strings only on ties (as a map sorts, see key-sort.ts; zero padding keeps the order).
   */
  head = 0;
  private buf: Buffer;
  private start = 0; // next unparsed byte in buf
  private end = 0; // end of valid bytes in buf
  private valStart = 0;
  private valEnd = 0;
  private fd: number;
  private fileRemaining: number;
  private filePos: number;
  private crc = 0;
  private records = 0;

  constructor(readonly segment: Segment, chunkSize = CHUNK) {
    this.buf = Buffer.allocUnsafe(Math.min(chunkSize, Math.max(segment.length, 16)));
    this.filePos = segment.offset;
    this.fileRemaining = segment.length;
    try {
      this.fd = openSync(segment.path, "r");
    } catch (err) {
      throw new CorruptSegmentError(segment, `cannot open: ${(err as Error).message}`);
    }
  }

  /** Advances to the next record; false at the end of the segment (then the checksum has been verified). */
  next(): boolean {
    for (;;) {
      const r = this.parse();
      if (r) return true;
      if (this.fileRemaining === 0) {
        if (this.start !== this.end) throw this.corrupt("a record runs past the end of the segment");
        this.finish();
        return false;
      }
      this.fill();
    }
  }

  /** Decodes the current record's value. */
  value(): unknown {
    try {
      return decodeValue(this.buf, this.valStart);
    } catch (err) {
      throw this.corrupt(`undecodable value: ${(err as Error).message}`);
    }
  }

  /** The current record's value bytes; valid until the next call to next(). */
  rawValue(): Buffer {
    return this.buf.subarray(this.valStart, this.valEnd);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private parse(): boolean {
    const { buf, start, end } = this;
    let keyEnd: number, lenEnd: number, vEnd: number;
    try {
      lenEnd = varintEnd(buf, start, end);
      if (lenEnd < 0) return false;
      keyEnd = lenEnd + readVarint(buf, start);
      if (keyEnd > end) return false;
      vEnd = valueEnd(buf, keyEnd, end);
    } catch (err) {
      throw this.corrupt((err as Error).message);
    }
    if (vEnd < 0) return false;
    this.key = buf.toString("latin1", lenEnd, keyEnd);
    let head = 0;
    for (let k = 0; k < HEAD; k++) head = head * 256 + (lenEnd + k < keyEnd ? buf[lenEnd + k]! : 0);
    this.head = head;
    this.valStart = keyEnd;
    this.valEnd = vEnd;
    this.start = vEnd;
    this.records++;
    return true;
  }

  /** Moves the unparsed tail to the front and reads more, growing the buffer for a record larger than it. */
  private fill(): void {
    const tail = this.end - this.start;
    if (tail === this.buf.length) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, this.start, this.end);
      this.buf = bigger;
    } else if (this.start > 0) {
      this.buf.copy(this.buf, 0, this.start, this.end);
    }
    this.start = 0;
    this.end = tail;
    const want = Math.min(this.buf.length - tail, this.fileRemaining);
    const n = readSync(this.fd, this.buf, tail, want, this.filePos);
    if (n <= 0) throw this.corrupt(`file ends ${this.fileRemaining} bytes early (truncated)`);
    this.crc = crc32(this.buf.subarray(tail, tail + n), this.crc);
    this.end += n;
    this.filePos += n;
    this.fileRemaining -= n;
  }

  private finish(): void {
    this.close();
    if (this.crc !== this.segment.crc) throw this.corrupt(`checksum mismatch (expected ${this.segment.crc}, got ${this.crc})`);
    if (this.records !== this.segment.records) throw this.corrupt(`expected ${this.segment.records} records, read ${this.records}`);
  }

  private corrupt(detail: string): CorruptSegmentError {
    this.close();
    return new CorruptSegmentError(this.segment, detail);
  }
}
