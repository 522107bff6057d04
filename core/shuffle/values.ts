/**
 * The binary form of values in intermediate files. Self-delimiting, so a record needs no value
 * length: common values (small ints, doubles, strings) take a tag and their bytes; anything else
 * (objects, arrays, bigints, dates) goes through V8's structured-clone serializer.
 */
import { serialize, deserialize } from "node:v8";
import { SheafError } from "../errors.js";

export const enum ValueTag { Undefined = 0, Null = 1, False = 2, True = 3, Int = 4, Double = 5, String = 6, Other = 7 }

/** The largest number of bytes `encodeValueInto` needs before the variable part. */
export const VALUE_HEADER_MAX = 10;

/** Bytes the value will take, so the writer can make room first. */
export function encodedValueSize(v: unknown): number | Buffer {
  switch (typeof v) {
    case "undefined": case "boolean": return 1;
    case "number": return 9;
    case "string": return 6 + v.length * 3;
    default: return v === null ? 1 : serialize(v);
  }
}

/** Writes `v` at `pos` (room checked by the caller via encodedValueSize); returns the new position. */
export function encodeValueInto(buf: Buffer, pos: number, v: unknown, serialized?: Buffer): number {
  switch (typeof v) {
    case "undefined": buf[pos] = ValueTag.Undefined; return pos + 1;
    case "boolean": buf[pos] = v ? ValueTag.True : ValueTag.False; return pos + 1;
    case "number":
      if (Number.isInteger(v) && v >= -0x40000000 && v < 0x40000000 && !Object.is(v, -0)) {
        buf[pos] = ValueTag.Int;
        return writeVarint(buf, pos + 1, (v << 1) ^ (v >> 31));
      }
      buf[pos] = ValueTag.Double;
      buf.writeDoubleLE(v, pos + 1);
      return pos + 9;
    case "string": {
      buf[pos] = ValueTag.String;
      // Reserve a 5-byte varint so the length can be written after the bytes.
      let n = v.length <= ASCII_LOOP_MAX ? asciiInto(buf, pos + 6, v) : -1;
      if (n < 0) n = buf.write(v, pos + 6, "utf8");
      writeVarint5(buf, pos + 1, n);
      return pos + 6 + n;
    }
    default:
      if (v === null) { buf[pos] = ValueTag.Null; return pos + 1; }
      if (!serialized) throw new SheafError("INTERNAL", "encodeValueInto: object value without its serialized form");
      buf[pos] = ValueTag.Other;
      pos = writeVarint(buf, pos + 1, serialized.length);
      serialized.copy(buf, pos);
      return pos + serialized.length;
  }
}

/** Returns the end of the value that starts at `pos`, or -1 if it runs past `limit`. */
export function valueEnd(buf: Buffer, pos: number, limit: number): number {
  if (pos >= limit) return -1;
  switch (buf[pos]) {
    case ValueTag.Undefined: case ValueTag.Null: case ValueTag.False: case ValueTag.True: return pos + 1;
    case ValueTag.Int: return varintEnd(buf, pos + 1, limit);
    case ValueTag.Double: return pos + 9 <= limit ? pos + 9 : -1;
    case ValueTag.String: case ValueTag.Other: {
      const lenEnd = varintEnd(buf, pos + 1, limit);
      if (lenEnd < 0) return -1;
      const end = lenEnd + readVarint(buf, pos + 1);
      return end <= limit ? end : -1;
    }
    default: throw new RangeError(`unknown value tag ${buf[pos]}`);
  }
}

export function decodeValue(buf: Buffer, pos: number): unknown {
  switch (buf[pos]) {
    case ValueTag.Undefined: return undefined;
    case ValueTag.Null: return null;
    case ValueTag.False: return false;
    case ValueTag.True: return true;
    case ValueTag.Int: { const z = readVarint(buf, pos + 1); return (z >>> 1) ^ -(z & 1); }
    case ValueTag.Double: return buf.readDoubleLE(pos + 1);
    case ValueTag.String: case ValueTag.Other: {
      const len = readVarint(buf, pos + 1);
      const start = varintEnd(buf, pos + 1, buf.length);
      return buf[pos] === ValueTag.String ? buf.toString("utf8", start, start + len) : deserialize(buf.subarray(start, start + len));
    }
    default: throw new RangeError(`unknown value tag ${buf[pos]}`);
  }
}

export function writeVarint(buf: Buffer, pos: number, n: number): number {
  n >>>= 0;
  while (n >= 0x80) { buf[pos++] = (n & 0x7f) | 0x80; n >>>= 7; }
  buf[pos++] = n;
  return pos;
}

/** Strings up to this long are written by asciiInto's loop; longer ones by Buffer#write (measured here: 8 chars 2.5x faster by the loop, 20 even, 90 3x slower). */
const ASCII_LOOP_MAX = 20;

/**
 * Writes a short ASCII string's bytes with a loop (Buffer#write's call costs more than the copy),
 * returning their count, or -1 at the first non-ASCII char (the caller then writes it as UTF-8).
 */
function asciiInto(buf: Buffer, pos: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return -1;
    buf[pos + i] = c;
  }
  return s.length;
}

/** A varint padded to exactly 5 bytes (continuation bits on the first four). */
function writeVarint5(buf: Buffer, pos: number, n: number): void {
  for (let i = 0; i < 4; i++) { buf[pos + i] = (n & 0x7f) | 0x80; n >>>= 7; }
  buf[pos + 4] = n & 0x7f;
}

/** Unrolled, with shifts: this runs for every string value and key read back (a 5-byte padded length included). */
export function readVarint(buf: Buffer, pos: number): number {
  let b = buf[pos]!;
  let n = b & 0x7f;
  if (b < 0x80) return n;
  b = buf[pos + 1]!;
  n |= (b & 0x7f) << 7;
  if (b < 0x80) return n;
  b = buf[pos + 2]!;
  n |= (b & 0x7f) << 14;
  if (b < 0x80) return n;
  b = buf[pos + 3]!;
  n |= (b & 0x7f) << 21;
  if (b < 0x80) return n;
  return n + (buf[pos + 4]! & 0x7f) * 0x10000000; // past 28 bits: no shifts (they would go negative)
}

/** End of the varint at `pos`, or -1 if it runs past `limit`. */
export function varintEnd(buf: Buffer, pos: number, limit: number): number {
  for (let i = 0; i < 5; i++) {
    if (pos + i >= limit) return -1;
    if (!(buf[pos + i]! & 0x80)) return pos + i + 1;
  }
  throw new RangeError("varint longer than 5 bytes");
}
