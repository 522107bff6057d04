/** Deterministic randomness and random keys/values for the unit tests (not a test file itself). */
import type { Key } from "../../../core/api/types.js";

export type Rng = () => number;

export { makeRng } from "../../support/rng.js";

export const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
export const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;

/** Doubles that sit on the edges of the IEEE 754 range. */
export const SPECIAL_NUMBERS: readonly number[] = [
  0, -0, 1, -1, 0.5, -0.5, 1.5, -1.5, 2, -2, NaN, Infinity, -Infinity,
  Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE,
  Number.EPSILON, 2.2250738585072014e-308 /* smallest normal */, -2.2250738585072014e-308,
  2.225073858507201e-308 /* largest subnormal */, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER,
  2 ** 30, -(2 ** 30), 2 ** 31, -(2 ** 31), 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e-300, -1e-300, 1e300, -1e300,
];

/** Any 64-bit pattern as a double: subnormals, NaNs with payloads and sign bits, everything. */
export function randomBitsDouble(rng: Rng): number {
  const b = Buffer.alloc(8);
  for (let i = 0; i < 8; i++) b[i] = int(rng, 0, 255);
  return b.readDoubleLE(0);
}

export function randomNumber(rng: Rng): number {
  switch (int(rng, 0, 5)) {
    case 0: return pick(rng, SPECIAL_NUMBERS);
    case 1: return int(rng, -1000, 1000);
    case 2: return (rng() - 0.5) * 2 ** int(rng, -1074, 1023);
    case 3: return randomBitsDouble(rng);
    case 4: return int(rng, -(2 ** 40), 2 ** 40);
    default: return (rng() - 0.5) * 1e6;
  }
}

export function randomBigInt(rng: Rng, maxBytes = 120): bigint {
  const r = int(rng, 0, 4);
  if (r === 0) return pick(rng, [0n, 1n, -1n, 255n, -255n, 256n, -256n, 65535n, -65536n, 2n ** 64n, -(2n ** 64n)]);
  const len = r === 1 ? int(rng, 1, maxBytes) : int(rng, 1, 10);
  let hex = "";
  for (let i = 0; i < len; i++) hex += int(rng, 0, 255).toString(16).padStart(2, "0");
  const mag = BigInt("0x" + hex);
  return rng() < 0.5 ? -mag : mag;
}

/** Code points from every UTF-8 length class, biased towards the ones that trip encoders. */
export function randomCodePoint(rng: Rng): number {
  switch (int(rng, 0, 9)) {
    case 0: return 0; // NUL
    case 1: return pick(rng, [0x01, 0x7f, 0x80, 0xff, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff, 0x1f600]);
    case 2: return int(rng, 0x80, 0x7ff);
    case 3: return int(rng, 0x800, 0xd7ff);
    case 4: return int(rng, 0xe000, 0xffff); // above the surrogates in UTF-8, below them in UTF-16
    case 5: return int(rng, 0x10000, 0x10ffff); // astral: a surrogate pair in UTF-16
    case 6: return int(rng, 0x1f300, 0x1faff); // emoji
    default: return int(rng, 0x20, 0x7e);
  }
}

export function randomString(rng: Rng, maxLen = 12): string {
  const n = int(rng, 0, maxLen);
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCodePoint(randomCodePoint(rng));
  return s;
}

/** A few atoms that collide often, so that random pairs share prefixes and tie. */
const STRING_ATOMS = ["", "a", "ab", "a\0", "\0", "\0\0", "\x01", "\x7f", "é", "\u{e000}", "\uffff", "😀", "\u{10ffff}", "a\u{e000}", "a😀"];

export function randomKey(rng: Rng, depth = 0, collide = false): Key {
  const r = int(rng, 0, depth >= 3 ? 4 : 5);
  switch (r) {
    case 0: return rng() < 0.5;
    case 1: return collide ? pick(rng, SPECIAL_NUMBERS) : randomNumber(rng);
    case 2: return collide ? pick(rng, [0n, 1n, -1n, 256n, -256n, 2n ** 100n, -(2n ** 100n)]) : randomBigInt(rng);
    case 3:
    case 4: {
      if (!collide) return randomString(rng);
      let s = "";
      for (let i = int(rng, 0, 3); i > 0; i--) s += pick(rng, STRING_ATOMS);
      return s;
    }
    default: {
      const n = int(rng, 0, collide ? 3 : 5);
      const arr: Key[] = [];
      for (let i = 0; i < n; i++) arr.push(randomKey(rng, depth + 1, collide));
      return arr;
    }
  }
}

/** Values of every kind the shuffle must carry. */
export function randomValue(rng: Rng, depth = 0): unknown {
  switch (int(rng, 0, depth >= 2 ? 9 : 11)) {
    case 0: return int(rng, -64, 64);
    case 1: return int(rng, -(2 ** 31), 2 ** 31);
    case 2: return pick(rng, SPECIAL_NUMBERS);
    case 3: return randomNumber(rng);
    case 4: return randomString(rng, 20);
    case 5: return pick(rng, [null, undefined, true, false]);
    case 6: return randomBigInt(rng, 40);
    case 7: return int(rng, -(2 ** 52), 2 ** 52);
    case 8: return pick(rng, [2 ** 30 - 1, 2 ** 30, -(2 ** 30), -(2 ** 30) - 1, 2 ** 31 - 1, -(2 ** 31), 2 ** 32 - 1, 2 ** 32]);
    case 9: return randomString(rng, 3);
    case 10: {
      const o: Record<string, unknown> = {};
      for (let i = int(rng, 0, 4); i > 0; i--) o[randomString(rng, 4)] = randomValue(rng, depth + 1);
      return o;
    }
    default: {
      const a: unknown[] = [];
      for (let i = int(rng, 0, 4); i > 0; i--) a.push(randomValue(rng, depth + 1));
      return a;
    }
  }
}

/** Replaces -0 by 0 everywhere in a key (the encoding does not keep the sign of zero). */
export function normalizeKey(k: Key): Key {
  if (typeof k === "number") return k === 0 ? 0 : k;
  if (Array.isArray(k)) return k.map(normalizeKey);
  return k;
}
