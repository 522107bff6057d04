/**
 * Order-preserving key encoding. A key is encoded into a "binary string": a JS string whose chars
 * are all in 0..255, one per byte. Comparing two encodings with `<` compares their bytes, so sort
 * and merge use V8's native string comparison, Maps can hold them, and `latin1` writes them to disk.
 *
 * Order: false < true < numbers (numerically, -0 = 0, NaN last) < bigints (numerically)
 *        < strings (by UTF-8 bytes) < arrays (element by element, a prefix first).
 */
import type { Key } from "./api/types.js";

const FALSE = 0x02, TRUE = 0x03, NUM = 0x04, BIG = 0x05, STR = 0x06, ARR = 0x07;
/** Ends strings and arrays; below every tag and every escaped byte, so shorter sorts first. */
const END = "\x00\x00";
const ASCII_NO_NUL = /^[\x01-\x7f]*$/;
const STR_TAG = String.fromCharCode(STR);

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class KeyError extends TypeError {}

export function encodeKey(key: Key): string {
  if (typeof key === "string") return encodeString(key);
  if (typeof key === "number") return encodeNumber(key);
  if (typeof key === "boolean") return String.fromCharCode(key ? TRUE : FALSE);
  if (typeof key === "bigint") return encodeBigInt(key);
  if (Array.isArray(key)) {
    let out = String.fromCharCode(ARR);
    for (const k of key) out += encodeKey(k);
    return out + "\x00";
  }
  throw new KeyError(`a key must be a string, number, bigint, boolean or an array of those, got ${key === null ? "null" : typeof key}`);
}

function encodeString(s: string): string {
  if (ASCII_NO_NUL.test(s)) return STR_TAG + s + END;
  // UTF-8 bytes as chars; NUL escaped as 00 FF so that END (00 00) sorts below any continuation.
  return STR_TAG + Buffer.from(s, "utf8").toString("latin1").replace(/\x00/g, "\x00\xff") + END;
}

function encodeNumber(n: number): string {
  f64[0] = n === 0 ? 0 : Number.isNaN(n) ? NaN : n;
  const b = f64Bytes;
  const big = LITTLE_ENDIAN ? [b[7]!, b[6]!, b[5]!, b[4]!, b[3]!, b[2]!, b[1]!, b[0]!] : Array.from(b);
  // IEEE 754 sorts as sign-magnitude: flip every bit of negatives, only the sign bit of positives.
  if (big[0]! & 0x80) for (let i = 0; i < 8; i++) big[i] = ~big[i]! & 0xff;
  else big[0] = big[0]! | 0x80;
  return String.fromCharCode(NUM, ...big);
}

function encodeBigInt(n: bigint): string {
  const neg = n < 0n;
  let hex = (neg ? -n : n).toString(16);
  if (hex.length % 2) hex = "0" + hex;
  const len = n === 0n ? 0 : hex.length / 2;
  if (len > 120) throw new KeyError("a bigint key may have at most 120 bytes");
  let body = "";
  for (let i = 0; i < len; i++) {
    const byte = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    body += String.fromCharCode(neg ? ~byte & 0xff : byte);
  }
  // Length first, so that a longer magnitude sorts further from zero.
  return String.fromCharCode(BIG, neg ? 0x7f - len : 0x80 + len) + body;
}

/** Decodes one key from `s` starting at `pos`; returns the key and the position after it. */
function decodeAt(s: string, pos: number): [Key, number] {
  const tag = s.charCodeAt(pos);
  switch (tag) {
    case FALSE: return [false, pos + 1];
    case TRUE: return [true, pos + 1];
    case NUM: {
      const big: number[] = [];
      for (let i = 1; i <= 8; i++) big.push(s.charCodeAt(pos + i));
      if (big[0]! & 0x80) big[0] = big[0]! & 0x7f;
      else for (let i = 0; i < 8; i++) big[i] = ~big[i]! & 0xff;
      for (let i = 0; i < 8; i++) f64Bytes[LITTLE_ENDIAN ? 7 - i : i] = big[i]!;
      return [f64[0]!, pos + 9];
    }
    case BIG: {
      const lenByte = s.charCodeAt(pos + 1);
      const neg = lenByte < 0x80;
      const len = neg ? 0x7f - lenByte : lenByte - 0x80;
      let hex = "";
      for (let i = 0; i < len; i++) {
        const byte = s.charCodeAt(pos + 2 + i);
        hex += (neg ? ~byte & 0xff : byte).toString(16).padStart(2, "0");
      }
      const mag = len === 0 ? 0n : BigInt("0x" + hex);
      return [neg ? -mag : mag, pos + 2 + len];
    }
    case STR: {
      let end = pos + 1;
      let escaped = false;
      for (;;) {
        end = s.indexOf("\x00", end);
        if (end < 0) throw new KeyError("corrupt key encoding: unterminated string");
        if (s.charCodeAt(end + 1) === 0xff) { escaped = true; end += 2; continue; }
        break;
      }
      let raw = s.slice(pos + 1, end);
      if (escaped) raw = raw.replace(/\x00\xff/g, "\x00");
      const text = ASCII_NO_NUL.test(raw) ? raw : Buffer.from(raw, "latin1").toString("utf8");
      return [text, end + 2];
    }
    case ARR: {
      const items: Key[] = [];
      let p = pos + 1;
      while (s.charCodeAt(p) !== 0) {
        if (p >= s.length) throw new KeyError("corrupt key encoding: unterminated array");
        const [k, next] = decodeAt(s, p);
        items.push(k);
        p = next;
      }
      return [items, p + 1];
    }
    default:
      throw new KeyError(`corrupt key encoding: unknown tag ${tag} at ${pos}`);
  }
}

export function decodeKey(encoded: string): Key {
  const [key, end] = decodeAt(encoded, 0);
  if (end !== encoded.length) throw new KeyError("corrupt key encoding: trailing bytes");
  return key;
}

/** Compares two keys in the engine's total order. */
export function compareKeys(a: Key, b: Key): number {
  const ea = encodeKey(a), eb = encodeKey(b);
  return ea < eb ? -1 : ea > eb ? 1 : 0;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * Writes the encoding of a string key that is plain ASCII without NUL (most keys) straight into
 * `buf` at `pos` (room for `s.length + 3` bytes), and returns hashEncodedKey of it, without making
 * the encoding's string; -1 for any other string (nothing usable is written: use encodeKey).
 */
export function writeAsciiStringKey(buf: Uint8Array, pos: number, s: string): number {
  let h = Math.imul(FNV_OFFSET ^ STR, FNV_PRIME);
  buf[pos] = STR;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c >= 0x80) return -1;
    buf[pos + 1 + i] = c;
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  buf[pos + 1 + s.length] = 0;
  buf[pos + 2 + s.length] = 0;
  return Math.imul(Math.imul(h, FNV_PRIME), FNV_PRIME) >>> 0; // the two END bytes: h ^ 0 = h
}

/** FNV-1a over the encoding: stable on every machine and every run. */
export function hashEncodedKey(encoded: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < encoded.length; i++) {
    h ^= encoded.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}
