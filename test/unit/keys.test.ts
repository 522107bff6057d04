import { describe, expect, it } from "vitest";
import { compareKeys, decodeKey, encodeKey, hashEncodedKey, KeyError, writeAsciiStringKey } from "../../core/keys.js";
import type { Key } from "../../core/api/types.js";
import { int, makeRng, normalizeKey, randomBigInt, randomKey, randomNumber, randomString, SPECIAL_NUMBERS, type Rng } from "./support/random.js";

// ---------------------------------------------------------------------------------------------
// Oracles, written from the specification only.
// ---------------------------------------------------------------------------------------------

function typeRank(k: Key): number {
  if (k === false) return 0;
  if (k === true) return 1;
  if (typeof k === "number") return 2;
  if (typeof k === "bigint") return 3;
  if (typeof k === "string") return 4;
  if (Array.isArray(k)) return 5;
  throw new Error("not a key");
}

/** The documented order: false < true < numbers < bigints < strings (UTF-8 bytes) < arrays. */
function oracleCompare(a: Key, b: Key): number {
  const ra = typeRank(a), rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  if (typeof a === "number" && typeof b === "number") {
    const na = Number.isNaN(a), nb = Number.isNaN(b);
    if (na || nb) return na && nb ? 0 : na ? 1 : -1;
    return a < b ? -1 : a > b ? 1 : 0; // -0 and 0 are neither < nor >
  }
  if (typeof a === "bigint" && typeof b === "bigint") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "string" && typeof b === "string") return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
  if (Array.isArray(a) && Array.isArray(b)) {
    const xs = a as readonly Key[], ys = b as readonly Key[];
    for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
      const c = oracleCompare(xs[i]!, ys[i]!);
      if (c !== 0) return c;
    }
    return Math.sign(xs.length - ys.length);
  }
  return 0; // two equal booleans
}

/** Byte-wise comparison of two binary strings, without using string `<`. */
function bytesCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "latin1"), Buffer.from(b, "latin1"));
}

const stringLess = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** FNV-1a 32-bit, computed with BigInt arithmetic. */
function fnv1aBig(s: string): number {
  let h = 0x811c9dc5n;
  for (let i = 0; i < s.length; i++) {
    h ^= BigInt(s.charCodeAt(i));
    h = (h * 0x01000193n) % 0x100000000n;
  }
  return Number(h);
}

/** Deep equality that tells -0 from 0 and treats NaN as equal to NaN. */
function sameKey(a: Key, b: Key): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return false;
    const xs = a as readonly Key[], ys = b as readonly Key[];
    return xs.length === ys.length && xs.every((x, i) => sameKey(x, ys[i]!));
  }
  return Object.is(a, b);
}

function describeKey(k: Key): string {
  if (typeof k === "bigint") return `${k}n`;
  if (typeof k === "number") return Object.is(k, -0) ? "-0" : String(k);
  if (typeof k === "string") return JSON.stringify(k);
  if (Array.isArray(k)) return `[${(k as readonly Key[]).map(describeKey).join(", ")}]`;
  return String(k);
}

function allCharsAreBytes(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 255) return false;
  return true;
}

function checkPair(a: Key, b: Key): void {
  const ea = encodeKey(a), eb = encodeKey(b);
  const expected = oracleCompare(a, b);
  const fail = (what: string): never => {
    throw new Error(`${what} for ${describeKey(a)} vs ${describeKey(b)} (oracle says ${expected})`);
  };
  if (stringLess(ea, eb) !== expected) fail(`encodings compare ${stringLess(ea, eb)}`);
  // `<` on binary strings must agree with a byte comparison of the same bytes.
  if (Math.sign(bytesCompare(ea, eb)) !== expected) fail("byte comparison disagrees");
  if (compareKeys(a, b) !== expected) fail(`compareKeys(a, b) = ${compareKeys(a, b)}`);
  if (compareKeys(b, a) !== (expected === 0 ? 0 : -expected)) fail(`compareKeys(b, a) = ${compareKeys(b, a)}`);
  // Equal keys (and only those) share an encoding, hence a hash.
  if ((ea === eb) !== (expected === 0)) fail("encodings equal iff keys equal");
  if (expected === 0 && hashEncodedKey(ea) !== hashEncodedKey(eb)) fail("equal keys hash differently");
}

// ---------------------------------------------------------------------------------------------

describe("oracle sanity", () => {
  it("the test comparator implements the documented order on hand-picked cases", () => {
    const lt: [Key, Key][] = [
      [false, true], [true, -Infinity], [Infinity, NaN], [NaN, -(2n ** 900n)], [10n ** 30n, ""],
      ["\uffff", "😀"], ["\u{e000}", "\u{10000}"], ["", "\0"], ["a", "a\0"], ["zzz", []], [[], [false]],
      [[1, 2], [1, 2, 0]], [[1, 3], [2]],
    ];
    for (const [a, b] of lt) {
      expect(oracleCompare(a, b)).toBe(-1);
      expect(oracleCompare(b, a)).toBe(1);
    }
    expect(oracleCompare(-0, 0)).toBe(0);
    expect(oracleCompare(NaN, NaN)).toBe(0);
    // UTF-16 order and UTF-8 order really differ for these two, so the test would notice a UTF-16 comparison.
    expect("\uffff" < "😀").toBe(false);
  });
});

describe("encodeKey / decodeKey round trip", () => {
  function roundTrip(k: Key): void {
    const enc = encodeKey(k);
    expect(typeof enc).toBe("string");
    if (!allCharsAreBytes(enc)) throw new Error(`encoding of ${describeKey(k)} has a char above 255`);
    const dec = decodeKey(enc);
    if (!sameKey(dec, normalizeKey(k))) {
      throw new Error(`round trip of ${describeKey(k)} gave ${describeKey(dec)}`);
    }
    expect(dec).toEqual(normalizeKey(k)); // also a structural check by vitest
    // The encoding is canonical: re-encoding the decoded key reproduces it.
    expect(encodeKey(dec)).toBe(enc);
  }

  it("booleans", () => {
    roundTrip(false);
    roundTrip(true);
  });

  it("special numbers, with -0 decoding to +0", () => {
    for (const n of SPECIAL_NUMBERS) roundTrip(n);
    expect(Object.is(decodeKey(encodeKey(-0)), 0)).toBe(true);
    expect(encodeKey(-0)).toBe(encodeKey(0));
    expect(Number.isNaN(decodeKey(encodeKey(NaN)))).toBe(true);
  });

  it("every NaN bit pattern encodes as the same key", () => {
    const rng = makeRng(7);
    const canonical = encodeKey(NaN);
    const view = new DataView(new ArrayBuffer(8));
    for (let i = 0; i < 200; i++) {
      // Exponent all ones, non-zero mantissa, random sign.
      view.setUint32(0, (rng() < 0.5 ? 0x7ff00000 : 0xfff00000) | int(rng, 1, 0xfffff));
      view.setUint32(4, int(rng, 0, 0xffffffff));
      const nan = view.getFloat64(0);
      expect(Number.isNaN(nan)).toBe(true);
      expect(encodeKey(nan)).toBe(canonical);
    }
  });

  it("random numbers of every magnitude", () => {
    const rng = makeRng(1);
    for (let i = 0; i < 5000; i++) roundTrip(randomNumber(rng));
  });

  it("bigints: zero, small, huge, negative, up to 120 bytes", () => {
    const fixed = [0n, 1n, -1n, 127n, 128n, -128n, -129n, 255n, -255n, 256n, -256n, 2n ** 63n, -(2n ** 63n), 2n ** 64n - 1n, -(2n ** 64n)];
    for (const b of fixed) roundTrip(b);
    roundTrip(2n ** 960n - 1n); // exactly 120 bytes
    roundTrip(-(2n ** 960n - 1n));
    const rng = makeRng(2);
    for (let i = 0; i < 2000; i++) roundTrip(randomBigInt(rng));
  });

  it("strings: empty, NUL, astral, U+E000..U+FFFF, mixed", () => {
    const fixed = ["", "\0", "\0\0", "a\0b", "\0a", "a\0", "abc", "\x7f", "\x80", "é", "\u{e000}", "\uffff", "\ufffd",
      "😀", "a😀b", "\u{10ffff}", "\u{10000}", "日本語", "\0😀\0", "\x01\x00\x01", "\xff\xfe"];
    for (const s of fixed) roundTrip(s);
    const rng = makeRng(3);
    for (let i = 0; i < 5000; i++) roundTrip(randomString(rng, 20));
  });

  it("a long string", () => {
    const rng = makeRng(4);
    roundTrip(randomString(rng, 20000));
    roundTrip("x".repeat(100000));
  });

  it("arrays: empty, nested, deep", () => {
    roundTrip([]);
    roundTrip([[]]);
    roundTrip([[], []]);
    roundTrip([[[[[]]]]]);
    roundTrip(["", "", []]);
    roundTrip([false, true, 0, -0, NaN, 1n, "\0", ["a\0", [-1n, -Infinity]]]);
    let deep: Key = "bottom";
    for (let i = 0; i < 200; i++) deep = [deep, i];
    roundTrip(deep);
  });

  it("thousands of random keys of every type", () => {
    const rng = makeRng(5);
    for (let i = 0; i < 10000; i++) roundTrip(randomKey(rng));
    for (let i = 0; i < 5000; i++) roundTrip(randomKey(rng, 0, true));
  });
});

describe("key order", () => {
  it("a hand-written chain is strictly increasing", () => {
    const chain: Key[] = [
      false, true,
      -Infinity, -Number.MAX_VALUE, -1e300, -2, -1.5, -1, -0.5, -Number.EPSILON, -2.2250738585072014e-308, -Number.MIN_VALUE,
      0, Number.MIN_VALUE, 2.225073858507201e-308, 2.2250738585072014e-308, Number.EPSILON, 0.5, 1, 1.5, 2,
      2 ** 53, 1e300, Number.MAX_VALUE, Infinity, NaN,
      -(2n ** 959n), -(2n ** 64n), -(2n ** 64n) + 1n, -65536n, -257n, -256n, -255n, -129n, -128n, -2n, -1n,
      0n, 1n, 2n, 127n, 128n, 255n, 256n, 65535n, 2n ** 64n - 1n, 2n ** 64n, 2n ** 959n,
      "", "\0", "\0\0", "\0\x01", "\x01", "a", "a\0", "a\0\0", "a\x01", "ab", "b", "\x7f", "\x80", "é", "\u07ff", "\u0800",
      "\ud7ff", "\u{e000}", "\uffff", "\u{10000}", "😀", "\u{10ffff}",
      [], [false], [false, false], [true], [0], [0, []], [1], [NaN], [0n], [""], ["", ""], ["\0"], ["a"], ["a", "b"], ["ab"],
      [[]], [[], []], [[0]], [[[]]],
    ];
    for (let i = 0; i + 1 < chain.length; i++) {
      expect(oracleCompare(chain[i]!, chain[i + 1]!)).toBe(-1);
      checkPair(chain[i]!, chain[i + 1]!);
    }
    // And every pair, not only neighbours.
    for (const a of chain) for (const b of chain) checkPair(a, b);
  });

  it("-0 equals 0, NaN equals NaN, NaN is above +Infinity", () => {
    checkPair(-0, 0);
    checkPair(NaN, NaN);
    checkPair(Infinity, NaN);
    checkPair([-0, "x"], [0, "x"]);
    expect(compareKeys(-0, 0)).toBe(0);
    expect(compareKeys(NaN, Infinity)).toBe(1);
    expect(compareKeys(NaN, -(2n ** 900n))).toBe(-1);
  });

  it("strings compare by UTF-8 bytes, not UTF-16 code units", () => {
    // U+FFFF is EF BF BF in UTF-8 and 0xFFFF in UTF-16; U+1F600 is F0 9F 98 80 and 0xD83D 0xDE00.
    checkPair("\uffff", "😀");
    checkPair("\u{e000}", "\u{10000}");
    checkPair("a\uffff", "a😀");
    expect(compareKeys("\uffff", "😀")).toBe(-1);
  });

  it("random pairs agree with the oracle (wide keys)", () => {
    const rng = makeRng(10);
    for (let i = 0; i < 20000; i++) checkPair(randomKey(rng), randomKey(rng));
  });

  it("random pairs agree with the oracle (colliding keys, shared prefixes and ties)", () => {
    const rng = makeRng(11);
    let ties = 0;
    for (let i = 0; i < 20000; i++) {
      const a = randomKey(rng, 0, true), b = randomKey(rng, 0, true);
      if (oracleCompare(a, b) === 0) ties++;
      checkPair(a, b);
    }
    expect(ties).toBeGreaterThan(100); // the generator really produces ties
  });

  it("random pairs within one type agree with the oracle", () => {
    const rng = makeRng(12);
    const gens: ((r: Rng) => Key)[] = [randomNumber, randomBigInt, (r) => randomString(r, 6), (r) => [randomKey(r, 2, true), randomKey(r, 2, true)]];
    for (const gen of gens) for (let i = 0; i < 5000; i++) checkPair(gen(rng), gen(rng));
  });

  it("near neighbours: a key against itself with one small change", () => {
    const rng = makeRng(13);
    for (let i = 0; i < 3000; i++) {
      const n = randomNumber(rng);
      checkPair(n, n + Number.EPSILON * Math.abs(n));
      checkPair(n, -n);
      const b = randomBigInt(rng);
      checkPair(b, b + 1n);
      checkPair(b, b - 1n);
      checkPair(b, -b);
      const s = randomString(rng, 8);
      checkPair(s, s + "\0");
      checkPair(s + "\0", s + "\x01");
      checkPair(s, s.slice(0, -1));
    }
  });

  it("sorting by encoding sorts by the oracle", () => {
    const rng = makeRng(14);
    const keys: Key[] = [];
    for (let i = 0; i < 3000; i++) keys.push(randomKey(rng, 0, rng() < 0.5));
    const encs = keys.map((k) => ({ k, e: encodeKey(k) }));
    encs.sort((x, y) => stringLess(x.e, y.e));
    for (let i = 0; i + 1 < encs.length; i++) {
      const c = oracleCompare(encs[i]!.k, encs[i + 1]!.k);
      if (c > 0) throw new Error(`out of order: ${describeKey(encs[i]!.k)} before ${describeKey(encs[i + 1]!.k)}`);
    }
  });
});

describe("hashEncodedKey", () => {
  it("matches FNV-1a computed with BigInt arithmetic", () => {
    expect(hashEncodedKey("")).toBe(0x811c9dc5);
    const rng = makeRng(20);
    for (let i = 0; i < 3000; i++) {
      const e = encodeKey(randomKey(rng));
      expect(hashEncodedKey(e)).toBe(fnv1aBig(e));
    }
  });

  it("is deterministic and a uint32", () => {
    const rng = makeRng(21);
    for (let i = 0; i < 3000; i++) {
      const k = randomKey(rng);
      const h = hashEncodedKey(encodeKey(k));
      expect(Number.isInteger(h)).toBe(true);
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h).toBeLessThanOrEqual(0xffffffff);
      // A fresh encoding of a structurally equal key hashes the same.
      expect(hashEncodedKey(encodeKey(structuredClone(k)))).toBe(h);
      expect(hashEncodedKey(encodeKey(k))).toBe(h);
    }
  });

  it("spreads keys over buckets", () => {
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 16000; i++) buckets[hashEncodedKey(encodeKey(`key-${i}`)) % 16]!++;
    for (const b of buckets) expect(b).toBeGreaterThan(700);
  });
});

describe("errors", () => {
  it("rejects values that are not keys", () => {
    for (const bad of [null, undefined, {}, Symbol("s"), () => 1, new Date(0), [1, null], [[{}]]]) {
      expect(() => encodeKey(bad as unknown as Key)).toThrow(KeyError);
    }
  });

  it("rejects bigints over 120 bytes", () => {
    expect(() => encodeKey(2n ** 960n)).toThrow(KeyError);
    expect(() => encodeKey(-(2n ** 960n))).toThrow(KeyError);
    expect(() => encodeKey(2n ** 960n - 1n)).not.toThrow();
  });

  it("rejects corrupt encodings", () => {
    const bad = [
      "\x01", // unknown tag
      "\x09",
      encodeKey("abc") + "x", // trailing bytes
      encodeKey(1) + encodeKey(2),
      "\x06abc", // unterminated string
      "\x06abc\x00",
      "\x07", // unterminated array
      "\x07\x02\x03",
    ];
    for (const e of bad) expect(() => decodeKey(e), JSON.stringify(e)).toThrow(KeyError);
  });
});

describe("writeAsciiStringKey", () => {
  it("writes encodeKey's bytes and returns hashEncodedKey's hash for plain ASCII; -1 for any other string", () => {
    const samples = ["", "a", "word", "Z~!", "x".repeat(300), "\x01\x7f", "a\0b", "é", "a😀", "\x80"];
    for (const s of samples) {
      const buf = Buffer.alloc(s.length + 3);
      const hash = writeAsciiStringKey(buf, 0, s);
      const ascii = /^[\x01-\x7f]*$/.test(s);
      if (!ascii) {
        expect(hash, JSON.stringify(s)).toBe(-1);
        continue;
      }
      const ek = encodeKey(s);
      expect(buf.toString("latin1"), JSON.stringify(s)).toBe(ek);
      expect(hash, JSON.stringify(s)).toBe(hashEncodedKey(ek));
    }
  });
});
