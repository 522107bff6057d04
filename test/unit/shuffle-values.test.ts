import { describe, expect, it } from "vitest";
import {
  decodeValue, encodedValueSize, encodeValueInto, readVarint, VALUE_HEADER_MAX, valueEnd, varintEnd, writeVarint,
} from "../../core/shuffle/values.js";
import { makeRng, randomValue, SPECIAL_NUMBERS } from "./support/random.js";

/** LEB128 of a uint32, computed with BigInt division. */
function varintOracle(n: number): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    const low = Number(v % 128n);
    v /= 128n;
    out.push(v > 0n ? low + 128 : low);
  } while (v > 0n);
  return out;
}

/** Encodes one value the way RunWriter does; returns the bytes. */
function encode(v: unknown): Buffer {
  const size = encodedValueSize(v);
  const room = typeof size === "number" ? size : size.length + 6;
  const buf = Buffer.alloc(3 + room + 8, 0xee);
  const end = encodeValueInto(buf, 3, v, typeof size === "number" ? undefined : size);
  expect(end).toBeGreaterThan(3);
  expect(end - 3).toBeLessThanOrEqual(room); // the size estimate really is an upper bound
  expect(buf.subarray(3 + room)).toEqual(Buffer.alloc(8, 0xee)); // nothing written past the room
  return buf.subarray(3, end);
}

/** A fresh copy at a different offset, so decoding cannot depend on where the bytes sit. */
function decodeCopy(bytes: Buffer): unknown {
  const buf = Buffer.alloc(bytes.length + 11, 0x55);
  bytes.copy(buf, 5);
  expect(valueEnd(buf, 5, 5 + bytes.length)).toBe(5 + bytes.length);
  return decodeValue(buf, 5);
}

function expectSameValue(got: unknown, want: unknown): void {
  if (typeof want === "number") expect(Object.is(got, want), `${String(got)} vs ${String(want)}`).toBe(true);
  else expect(got).toStrictEqual(want);
}

describe("varints", () => {
  const samples = [0, 1, 127, 128, 255, 256, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31, 2 ** 32 - 1];

  it("writeVarint produces LEB128 bytes and readVarint/varintEnd read them back", () => {
    const rng = makeRng(30);
    const values = [...samples];
    for (let i = 0; i < 2000; i++) values.push(Math.floor(rng() * 2 ** (1 + Math.floor(rng() * 32))));
    for (const n of values) {
      const buf = Buffer.alloc(12, 0xaa);
      const end = writeVarint(buf, 2, n);
      const want = varintOracle(n);
      expect([...buf.subarray(2, end)]).toEqual(want);
      expect(readVarint(buf, 2)).toBe(n);
      expect(varintEnd(buf, 2, buf.length)).toBe(end);
      // Any cut before the last byte is "incomplete", never a wrong answer.
      for (let lim = 2; lim < end; lim++) expect(varintEnd(buf, 2, lim)).toBe(-1);
    }
  });

  it("varintEnd rejects a varint longer than 5 bytes", () => {
    expect(() => varintEnd(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 0, 6)).toThrow(RangeError);
  });
});

describe("value encoding", () => {
  const fixed: unknown[] = [
    undefined, null, true, false,
    0, -0, 1, -1, 63, -64, 64, -65, 127, 128, -128, 1000, -1000,
    2 ** 30 - 1, 2 ** 30, -(2 ** 30), -(2 ** 30) - 1, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32, -(2 ** 32),
    2 ** 53, -(2 ** 53), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1e21, -1e21,
    ...SPECIAL_NUMBERS, 0.1, -0.1, Math.PI,
    "", "a", "\0", "é", "日本語", "😀", "\u{e000}\uffff", "\u{10ffff}", "a\0b😀", "x".repeat(1000),
    0n, 1n, -1n, 2n ** 64n, -(2n ** 200n),
    {}, [], { a: 1, b: "two", c: [3, { d: null }] }, [1, "x", null, true, [2n]], { nested: { deep: { deeper: [[[]]] } } },
    new Map<unknown, unknown>([[1, "a"], ["b", { c: 2 }]]), new Set([1, "x", 3n]), new Date(1234567890123),
    new Uint8Array([1, 2, 3]), { u: undefined, n: NaN, z: -0 },
  ];

  it("round-trips hand-picked values", () => {
    for (const v of fixed) expectSameValue(decodeCopy(encode(v)), v);
  });

  it("small integers take few bytes, other numbers fit in 9", () => {
    // Zigzag varint, computed by the oracle: |v| < 64 → 1 byte after the tag.
    for (let v = -64; v < 64; v++) expect(encode(v).length).toBe(2);
    for (const v of [2 ** 30 - 1, -(2 ** 30)]) {
      const zig = v >= 0 ? 2 * v : -2 * v - 1;
      expect(encode(v).length).toBe(1 + varintOracle(zig).length);
    }
    for (const v of [-0, 0.5, NaN, 2 ** 30, -(2 ** 30) - 1, 2 ** 53, Infinity]) expect(encode(v).length).toBe(9);
  });

  it("strings take the tag, a 5-byte length and their UTF-8 bytes", () => {
    const rng = makeRng(31);
    for (let i = 0; i < 500; i++) {
      const v = randomValue(rng);
      if (typeof v !== "string") continue;
      const bytes = encode(v);
      expect(bytes.length).toBe(6 + Buffer.byteLength(v, "utf8"));
      expect(bytes.subarray(6).toString("utf8")).toBe(v);
    }
  });

  it("round-trips thousands of random values, header within VALUE_HEADER_MAX", () => {
    const rng = makeRng(32);
    for (let i = 0; i < 5000; i++) {
      const v = randomValue(rng);
      const bytes = encode(v);
      expectSameValue(decodeCopy(bytes), v);
      if (typeof v === "number" || typeof v === "boolean" || v == null) expect(bytes.length).toBeLessThanOrEqual(VALUE_HEADER_MAX);
    }
  });

  it("valueEnd reports -1 for every truncation of a value", () => {
    const rng = makeRng(33);
    for (let i = 0; i < 500; i++) {
      const bytes = encode(randomValue(rng));
      for (let cut = 0; cut < bytes.length; cut++) expect(valueEnd(bytes, 0, cut)).toBe(-1);
      expect(valueEnd(bytes, 0, bytes.length)).toBe(bytes.length);
    }
  });

  it("values packed back to back are delimited by valueEnd", () => {
    const rng = makeRng(34);
    const values = Array.from({ length: 300 }, () => randomValue(rng));
    const packed = Buffer.concat(values.map(encode));
    let pos = 0;
    for (const v of values) {
      const end = valueEnd(packed, pos, packed.length);
      expect(end).toBeGreaterThan(pos);
      expectSameValue(decodeValue(packed, pos), v);
      pos = end;
    }
    expect(pos).toBe(packed.length);
  });

  it("an unknown tag is a RangeError", () => {
    expect(() => valueEnd(Buffer.from([8]), 0, 1)).toThrow(RangeError);
    expect(() => decodeValue(Buffer.from([200]), 0)).toThrow(RangeError);
  });

  it("an object value needs its serialized form", () => {
    expect(() => encodeValueInto(Buffer.alloc(64), 0, { a: 1 })).toThrow();
  });
});
