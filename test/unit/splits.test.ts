import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { planSplits } from "../../core/splits.js";
import { MAX_LINE, readLines } from "../../core/formats/line-reader.js";

const dir = mkdtempSync(join(tmpdir(), "sheaf-splits-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The oracle: split the whole text on \n, drop a trailing empty piece, strip one \r before each \n. */
function oracleLines(bytes: Buffer): { text: string; offset: number; line: number }[] {
  const out: { text: string; offset: number; line: number }[] = [];
  let start = 0;
  let line = 1;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length ? start < bytes.length : bytes[i] === 10) {
      let stop = i;
      if (i < bytes.length && stop > start && bytes[stop - 1] === 13) stop--;
      out.push({ text: bytes.toString("utf8", start, stop), offset: start, line: line++ });
      start = i + 1;
    }
  }
  return out;
}

function readAll(path: string, size: number, splitSize: number, bufferSize?: number) {
  const got: { text: string; offset: number; line: number | undefined }[] = [];
  for (const split of planSplits([{ path, size }], splitSize, true)) {
    readLines(split, (batch) => {
      batch.lines.forEach((text, i) => got.push({ text, offset: batch.offsetOf(i), line: batch.firstLine === undefined ? undefined : batch.firstLine + i }));
    }, bufferSize);
  }
  return got;
}

const cases: Record<string, Buffer> = {
  plain: Buffer.from("alpha\nbeta\ngamma\n"),
  noFinalNewline: Buffer.from("one\ntwo\nthree"),
  crlf: Buffer.from("a\r\nbb\r\n\r\nccc\r\nlast\r"),
  emptyLines: Buffer.from("\n\n\nx\n\n"),
  onlyNewline: Buffer.from("\n"),
  multibyte: Buffer.from("héllo wörld\n日本語のテキスト\n🎉🎉 party\nzß\n"),
  invalidUtf8: Buffer.concat([Buffer.from("ok\n"), Buffer.from([0xff, 0xfe, 0x41, 0x0a, 0xe6, 0x97]), Buffer.from("\nend")]),
  longLine: Buffer.from("short\n" + "x".repeat(5000) + "\nafter\n" + "y".repeat(3000)),
};

describe("byte-range splits read every line exactly once", () => {
  for (const [name, bytes] of Object.entries(cases)) {
    it(name, () => {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      const want = oracleLines(bytes);
      const sizes = [1, 2, 3, 5, 7, 13, 64, bytes.length - 1, bytes.length, bytes.length + 100].filter((s) => s >= 1);
      for (const splitSize of sizes) {
        // A 4-byte buffer rescans long lines from every split start: keep that to the coarser splits.
        for (const bufferSize of bytes.length > 1000 && splitSize < 64 ? [1 << 16] : [4, 1 << 16]) {
          expect(readAll(path, bytes.length, splitSize, bufferSize), `split ${splitSize} buffer ${bufferSize}`).toEqual(want);
        }
      }
    });
  }

  it("a small split's buffer grows for a line longer than it (40 and 70 KB lines)", () => {
    const bytes = Buffer.from("a\n" + "x".repeat(40_000) + "\n" + "y".repeat(70_000) + "\nz\n" + "w".repeat(20_000));
    const path = join(dir, "veryLong");
    writeFileSync(path, bytes);
    for (const splitSize of [1_000, 30_000, 200_000]) expect(readAll(path, bytes.length, splitSize), `split ${splitSize}`).toEqual(oracleLines(bytes));
  });

  it("a batch larger than a decoding piece (64 KiB) reads the same lines, cut anywhere", () => {
    // About 1 MiB of mixed lines: multibyte text, \r\n, empty lines, and lines longer than a piece.
    let seed = 777;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const parts: string[] = [];
    for (let size = 0; size < 1 << 20; ) {
      const kind = rand(20);
      const line = kind === 0 ? "" : kind === 1 ? "é日🎉".repeat(1 + rand(30)) : kind === 2 ? "L".repeat(65_000 + rand(80_000)) : "w".repeat(1 + rand(200));
      const piece = line + (rand(4) === 0 ? "\r\n" : "\n");
      parts.push(piece);
      size += Buffer.byteLength(piece);
    }
    for (const last of ["", "unterminated tail\r"]) {
      const bytes = Buffer.from(parts.join("") + last);
      const path = join(dir, `pieces-${last.length}`);
      writeFileSync(path, bytes);
      for (const splitSize of [bytes.length, 300_000]) expect(readAll(path, bytes.length, splitSize, 1 << 20), `split ${splitSize}`).toEqual(oracleLines(bytes));
    }
  });

  it("an empty file has no splits and no records", () => {
    const path = join(dir, "empty");
    writeFileSync(path, "");
    expect(planSplits([{ path, size: 0 }], 10)).toEqual([]);
  });

  it("random text at random split sizes", () => {
    let seed = 12345;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const alphabet = ["a", "b", "é", "日", "🎉", "\n", "\r\n", " ", "\n\n"];
    for (let round = 0; round < 20; round++) {
      let text = "";
      const n = rand(400);
      for (let i = 0; i < n; i++) text += alphabet[rand(alphabet.length)];
      const bytes = Buffer.from(text);
      const path = join(dir, `random-${round}`);
      writeFileSync(path, bytes);
      const want = oracleLines(bytes);
      for (let k = 0; k < 8; k++) {
        const splitSize = 1 + rand(bytes.length + 5);
        expect(readAll(path, bytes.length, splitSize, 8 + rand(64))).toEqual(want);
      }
    }
  });
});

describe("bounded records", () => {
  it("a line longer than 64 MiB is a clear error naming the file and its offset, not an unbounded buffer", () => {
    const path = join(dir, "long.txt");
    writeFileSync(path, Buffer.concat([Buffer.from("short\n"), Buffer.alloc(MAX_LINE + 10, 0x61), Buffer.from("\nend\n")]));
    expect(() => readLines({ file: path, start: 0, end: MAX_LINE + 20 }, () => {})).toThrow(/a line longer than 64 MiB at .*long\.txt byte 6/);
    rmSync(path);
  });
});
