import { readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeKey } from "../../core/keys.js";
import { RunReader } from "../../core/shuffle/run-reader.js";
import { RunWriter } from "../../core/shuffle/run-writer.js";
import { CORRUPT, type Segment } from "../../core/shuffle/segment.js";
import { int, makeRng, randomKey, randomValue, type Rng } from "./support/random.js";
import { crc32Oracle, makeTempDir, readSegment, sameValue, writeRun, type Rec } from "./support/runs.js";

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = makeTempDir()));
afterAll(() => cleanup());

const CHUNK_SIZES = [1, 7, 16, 64, 4096, undefined] as const;

/** Values the brief calls out, each of which must survive the trip. */
const ALL_KINDS: unknown[] = [
  0, 1, -1, 42, -42, 2 ** 30 - 1, 2 ** 30, -(2 ** 30), -(2 ** 30) - 1, 2 ** 31, -(2 ** 31) - 5, 2 ** 40 + 3, -(2 ** 45),
  Number.MAX_SAFE_INTEGER, 0.5, -1.25, Math.PI, 1e-310, -0, NaN, Infinity, -Infinity,
  "", "plain", "ünïcödé", "日本語テキスト", "emoji 😀🎉", "\0nul\0", "\u{e000}\uffff\u{10ffff}",
  null, undefined, true, false,
  { a: 1, b: { c: [1, 2, { d: "e" }] }, f: null }, [1, [2, [3, [4]]], "x", { y: -0 }], [], {},
  0n, 12345678901234567890n, -(2n ** 100n), new Map([["k", 1n]]), new Set(["s"]), new Date(86400000),
];

function expectRecs(got: readonly Rec[], want: readonly Rec[], label: string): void {
  if (got.length !== want.length) throw new Error(`${label}: read ${got.length} records, want ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    if (got[i]!.key !== want[i]!.key) throw new Error(`${label} key #${i}: got ${JSON.stringify(got[i]!.key)}, want ${JSON.stringify(want[i]!.key)}`);
    if (!sameValue(got[i]!.value, want[i]!.value)) {
      throw new Error(`${label} value #${i}: got ${String(got[i]!.value)}, want ${String(want[i]!.value)}`);
    }
  }
}

function randomRecs(rng: Rng, n: number): Rec[] {
  return Array.from({ length: n }, () => ({ key: encodeKey(randomKey(rng)), value: randomValue(rng) }));
}

/** Checks the segments against the file: contiguous, covering it, with the right CRC. */
function checkLayout(path: string, segments: readonly Segment[], size: number, counts: readonly number[]): void {
  const file = readFileSync(path);
  expect(statSync(path).size).toBe(size);
  expect(file.length).toBe(size);
  let offset = 0;
  segments.forEach((s, i) => {
    expect(s.path).toBe(path);
    expect(s.offset).toBe(offset);
    expect(s.records).toBe(counts[i]);
    expect(s.crc).toBe(crc32Oracle(file.subarray(s.offset, s.offset + s.length)));
    offset += s.length;
  });
  expect(offset).toBe(size);
}

describe("RunWriter + RunReader round trip", () => {
  it("every kind of value, several partitions, every chunk size", () => {
    const path = join(dir, "kinds.run");
    const rng = makeRng(40);
    const keys = [encodeKey(""), encodeKey(-1), encodeKey("😀"), encodeKey([1n, "a\0"]), "\x00\xff\x80 binary", "k".repeat(300)];
    const parts: Rec[][] = [
      ALL_KINDS.map((value, i) => ({ key: keys[i % keys.length]!, value })),
      [],
      ALL_KINDS.slice().reverse().map((value) => ({ key: encodeKey(randomKey(rng)), value })),
      [{ key: encodeKey("only"), value: "one" }],
      [],
    ];
    const { segments, size } = writeRun(path, parts);
    checkLayout(path, segments, size, parts.map((p) => p.length));
    for (const chunk of CHUNK_SIZES) {
      segments.forEach((seg, i) => expectRecs(readSegment(seg, chunk).recs, parts[i]!, `chunk ${chunk} partition ${i}`));
    }
  });

  it("random records, random partition counts", () => {
    const rng = makeRng(41);
    for (let round = 0; round < 20; round++) {
      const path = join(dir, `random-${round}.run`);
      const parts = Array.from({ length: int(rng, 1, 6) }, () => randomRecs(rng, int(rng, 0, 60)));
      const { segments, size } = writeRun(path, parts);
      checkLayout(path, segments, size, parts.map((p) => p.length));
      const chunk = CHUNK_SIZES[round % CHUNK_SIZES.length];
      segments.forEach((seg, i) => expectRecs(readSegment(seg, chunk).recs, parts[i]!, `round ${round} partition ${i}`));
    }
  });

  it("keys of every byte value and keys longer than a chunk", () => {
    const path = join(dir, "keys.run");
    let all = "";
    for (let c = 0; c < 256; c++) all += String.fromCharCode(c);
    const recs: Rec[] = [
      { key: all, value: 1 },
      { key: "", value: 2 },
      { key: "\x00", value: 3 },
      { key: "\xff".repeat(200), value: 4 },
      { key: all.repeat(40), value: "long key" }, // 10240 bytes: a 2-byte length varint
    ];
    const { segments } = writeRun(path, [recs]);
    for (const chunk of CHUNK_SIZES) expectRecs(readSegment(segments[0]!, chunk).recs, recs, `chunk ${chunk}`);
  });

  it("values larger than the read chunk and larger than the write buffer", () => {
    const path = join(dir, "big.run");
    const rng = makeRng(42);
    const bigString = "é😀x".repeat(400_000); // ~3.6 MB of UTF-8, more than the writer's 1 MiB buffer
    const bigObject = { list: Array.from({ length: 20000 }, (_, i) => ({ i, s: `item ${i}` })) };
    const recs: Rec[] = [
      { key: encodeKey("a"), value: 1 },
      { key: encodeKey("b"), value: "x".repeat(100) }, // > chunk 16
      { key: encodeKey("c"), value: bigString },
      { key: encodeKey("d"), value: -7 },
      { key: encodeKey("e"), value: bigObject },
      ...randomRecs(rng, 50),
    ];
    const { segments, size } = writeRun(path, [randomRecs(rng, 10), recs, randomRecs(rng, 10)]);
    checkLayout(path, segments, size, [10, recs.length, 10]);
    for (const chunk of [16, 1000, undefined]) expectRecs(readSegment(segments[1]!, chunk).recs, recs, `chunk ${chunk}`);
  });

  it("segments that span the writer's buffer flushes keep a correct CRC", () => {
    const path = join(dir, "flushes.run");
    const rng = makeRng(43);
    // ~3 MB over 4 partitions: several 1 MiB flushes land in the middle of segments.
    const parts = Array.from({ length: 4 }, () => Array.from({ length: 8000 }, (_, i) => ({
      key: encodeKey([i, randomKey(rng, 2)]),
      value: rng() < 0.5 ? "v".repeat(int(rng, 0, 150)) : randomValue(rng),
    })));
    const { segments, size } = writeRun(path, parts);
    expect(size).toBeGreaterThan(2 << 20);
    checkLayout(path, segments, size, parts.map((p) => p.length));
    segments.forEach((seg, i) => expectRecs(readSegment(seg, 16).recs, parts[i]!, `partition ${i}`));
  });

  it("rawValue gives the encoded bytes: writeRaw copies reproduce the file exactly", () => {
    const rng = makeRng(44);
    const src = join(dir, "raw-src.run"), dst = join(dir, "raw-dst.run");
    const parts = [ALL_KINDS.map((value, i) => ({ key: encodeKey(i), value })), [], randomRecs(rng, 200)];
    const { segments } = writeRun(src, parts);
    const w = new RunWriter(dst);
    const copied: Segment[] = [];
    for (const seg of segments) {
      w.beginSegment();
      const r = new RunReader(seg, 16);
      while (r.next()) w.writeRaw(r.key, r.rawValue());
      copied.push({ path: dst, ...w.endSegment() });
    }
    w.close();
    expect(Buffer.compare(readFileSync(src), readFileSync(dst))).toBe(0);
    copied.forEach((c, i) => {
      expect({ ...c, path: src }).toEqual(segments[i]);
      expectRecs(readSegment(c, 7).recs, parts[i]!, `copy ${i}`);
    });
  });

  it("rawValue holds exactly one value's bytes", () => {
    const path = join(dir, "raw-len.run");
    const recs = ALL_KINDS.map((value, i) => ({ key: encodeKey(i), value }));
    const { segments } = writeRun(path, [recs]);
    const { raws } = readSegment(segments[0]!, 16);
    raws.forEach((raw, i) => {
      // Writing the value alone into a fresh segment gives the same bytes after the key.
      const one = join(dir, `raw-one-${i}.run`);
      const key = encodeKey(i);
      writeRun(one, [[{ key, value: recs[i]!.value }]]);
      const file = readFileSync(one);
      expect(file.subarray(1 + key.length).equals(raw)).toBe(true);
    });
  });

  it("an empty file of empty segments", () => {
    const path = join(dir, "empty.run");
    const { segments, size } = writeRun(path, [[], [], []]);
    expect(size).toBe(0);
    for (const s of segments) {
      expect(s).toMatchObject({ offset: 0, length: 0, records: 0 });
      expect(readSegment(s, 16).recs).toEqual([]);
    }
  });

  it("next() keeps returning false after the end", () => {
    const path = join(dir, "end.run");
    const { segments } = writeRun(path, [[{ key: "k", value: 1 }]]);
    const r = new RunReader(segments[0]!, 16);
    expect(r.next()).toBe(true);
    expect(r.next()).toBe(false);
    expect(r.next()).toBe(false);
    r.close();
    r.close();
  });

  it("misuse of segments is an error", () => {
    const w = new RunWriter(join(dir, "misuse.run"));
    expect(() => w.endSegment()).toThrow();
    w.beginSegment();
    expect(() => w.beginSegment()).toThrow();
    w.endSegment();
    w.abandon();
  });
});

describe("corruption", () => {
  function expectCorrupt(fn: () => unknown, path: string, label: string): void {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    if (err === undefined) throw new Error(`${label}: no error`);
    if ((err as { code?: unknown }).code !== CORRUPT) throw new Error(`${label}: wrong error ${String(err)}`);
    if (!(err as Error).message.includes(path)) throw new Error(`${label}: message does not name ${path}: ${(err as Error).message}`);
  }

  function corruptionFixture(name: string): { path: string; parts: Rec[][]; segments: Segment[]; bytes: Buffer } {
    const rng = makeRng(50);
    const path = join(dir, name);
    const parts: Rec[][] = [
      ALL_KINDS.slice(0, 20).map((value, i) => ({ key: encodeKey([-i, "😀😀"]), value })),
      ALL_KINDS.slice(20).map((value, i) => ({ key: encodeKey(-1 - i), value })),
      randomRecs(rng, 15),
    ];
    const { segments } = writeRun(path, parts);
    return { path, parts, segments, bytes: readFileSync(path) };
  }

  /**
   * Reads every segment; the damaged ones must fail (both with next() alone and with next() plus
   * value(), at two chunk sizes), the others must read as written.
   */
  function checkAll(path: string, parts: Rec[][], segments: Segment[], damaged: (s: Segment) => boolean, label: string): void {
    segments.forEach((seg, i) => {
      if (!damaged(seg)) {
        expectRecs(readSegment(seg, 16).recs, parts[i]!, `${label} intact segment ${i}`);
        return;
      }
      for (const chunk of [16, undefined]) {
        for (const withValues of [false, true]) {
          const read = (): void => {
            const r = new RunReader(seg, chunk);
            while (r.next()) if (withValues) r.value();
          };
          expectCorrupt(read, path, `${label} segment ${i} chunk ${chunk}${withValues ? " with values" : ""}`);
        }
      }
    });
  }

  it("flipping any byte makes reading throw CORRUPT_INTERMEDIATE naming the file (next() alone, or with value())", () => {
    const { path, parts, segments, bytes } = corruptionFixture("flip.run");
    for (const mask of [0xff, 0x01, 0x80]) {
      for (let pos = 0; pos < bytes.length; pos++) {
        const bad = Buffer.from(bytes);
        bad[pos]! ^= mask;
        writeFileSync(path, bad);
        const inSeg = (s: Segment): boolean => pos >= s.offset && pos < s.offset + s.length;
        checkAll(path, parts, segments, inSeg, `flip ${mask} at ${pos}`);
      }
    }
  }, 120_000);

  it("truncating the file anywhere makes the cut segments throw CORRUPT_INTERMEDIATE", () => {
    const { path, parts, segments, bytes } = corruptionFixture("trunc.run");
    for (let len = bytes.length - 1; len >= 0; len--) {
      writeFileSync(path, bytes);
      truncateSync(path, len);
      const cut = (s: Segment): boolean => s.offset + s.length > len;
      checkAll(path, parts, segments, cut, `truncated to ${len}`);
    }
  }, 120_000);

  it("regression: an overlong key-length varint is CORRUPT_INTERMEDIATE, not a bare RangeError", () => {
    const path = join(dir, "overlong.run");
    const bytes = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    writeFileSync(path, bytes);
    const seg: Segment = { path, offset: 0, length: bytes.length, records: 1, crc: crc32Oracle(bytes) };
    expectCorrupt(() => { const r = new RunReader(seg); while (r.next()); }, path, "overlong varint");
  });

  it("regression: a well-framed but undecodable value makes value() throw CORRUPT_INTERMEDIATE", () => {
    const path = join(dir, "undecodable.run");
    // key length 1, key "k", tag Other (7), payload length 3, payload that is not structured-clone data
    const bytes = Buffer.from([1, 0x6b, 7, 3, 0xff, 0xff, 0xff]);
    writeFileSync(path, bytes);
    const seg: Segment = { path, offset: 0, length: bytes.length, records: 1, crc: crc32Oracle(bytes) };
    const r = new RunReader(seg);
    expect(r.next()).toBe(true);
    expect(r.key).toBe("k");
    expect([...r.rawValue()]).toEqual([7, 3, 0xff, 0xff, 0xff]);
    expectCorrupt(() => r.value(), path, "undecodable value");
  });

  it("a missing file, a wrong CRC or a wrong record count is CORRUPT_INTERMEDIATE", () => {
    const { path, segments } = corruptionFixture("meta.run");
    const seg = segments[1]!;
    const missing = join(dir, "does-not-exist.run");
    expectCorrupt(() => new RunReader({ ...seg, path: missing }), missing, "missing file");
    expectCorrupt(() => { const r = new RunReader({ ...seg, crc: (seg.crc + 1) >>> 0 }); while (r.next()); }, path, "crc");
    expectCorrupt(() => { const r = new RunReader({ ...seg, records: seg.records + 1 }); while (r.next()); }, path, "records+1");
    expectCorrupt(() => { const r = new RunReader({ ...seg, records: seg.records - 1 }); while (r.next()); }, path, "records-1");
    // A segment that ends inside a record.
    expectCorrupt(() => { const r = new RunReader({ ...seg, length: seg.length - 1 }, 16); while (r.next()); }, path, "short length");
    // Same, with a CRC and record count that match the cut bytes: only the framing check can tell.
    const file = readFileSync(path);
    const cut = { ...seg, length: seg.length - 1, records: seg.records - 1 };
    cut.crc = crc32Oracle(file.subarray(cut.offset, cut.offset + cut.length));
    expectCorrupt(() => { const r = new RunReader(cut, 16); while (r.next()); }, path, "cut record, consistent metadata");
  });
});
