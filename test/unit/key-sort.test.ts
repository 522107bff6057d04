import { describe, expect, it } from "vitest";
import { keyHead, keyOrder } from "../../core/shuffle/key-sort.js";
import { int, makeRng, type Rng } from "./support/random.js";

/** The oracle: byte-wise comparison of the keys as Buffers, then emit order (a plain insertion into sorted position). */
function oracle(items: { ek: string; i: number }[]): number[] {
  const bytes = (s: string) => Buffer.from(s, "latin1");
  return [...items].sort((a, b) => Buffer.compare(bytes(a.ek), bytes(b.ek)) || a.i - b.i).map((x) => x.i);
}

function binary(rng: Rng, alphabet: number, maxLen: number, prefix = ""): string {
  let s = prefix;
  for (let n = int(rng, 0, maxLen); n > 0; n--) s += String.fromCharCode(int(rng, 0, alphabet - 1));
  return s;
}

/** keyOrder over binary strings (one char per byte). */
function order(eks: string[], narrowBelow?: number): number[] {
  const head = new Uint32Array(eks.length * 2);
  eks.forEach((ek, i) => keyHead(Buffer.from(ek, "latin1"), 0, ek.length, head, 2 * i));
  const got = keyOrder(
    {
      n: eks.length,
      byte: (i, k) => (k < eks[i]!.length ? eks[i]!.charCodeAt(k) : -1),
      compare: (i, j) => (eks[i]! < eks[j]! ? -1 : eks[i]! > eks[j]! ? 1 : 0),
      head,
    },
    narrowBelow,
  );
  return [...got];
}

describe("keyOrder: byte order of the encodings, emit order among equal keys", () => {
  const cases: [string, (rng: Rng) => string][] = [
    ["random bytes, many ties and prefixes of each other", (rng) => binary(rng, 3, 6)],
    ["every byte value, long shared prefix", (rng) => binary(rng, 256, 12, "\x06same-prefix/")],
    ["keys that differ only past the leading bytes", (rng) => "\x06abcdefgh" + binary(rng, 256, 3)],
    ["empty and one-byte keys beside longer ones", (rng) => binary(rng, 2, 2)],
  ];
  cases.forEach(([name, make], c) => {
    for (const n of [0, 1, 2, 17, 5000]) {
      it(`${name}: ${n} records`, () => {
        const rng = makeRng(40 + c * 7 + n);
        const items = Array.from({ length: n }, (_, i) => ({ ek: make(rng), i }));
        expect(order(items.map((x) => x.ek))).toEqual(oracle(items));
        // Past 2^24 records a word holds four key bytes and a 32-bit index instead of five and 24 bits.
        expect(order(items.map((x) => x.ek), 2)).toEqual(oracle(items));
      });
    }
  });
});
