/**
 * Cuts input files into byte-range splits. A text split [start, end) owns the lines that start
 * inside it: it begins after the first newline at or past start-1 (at 0 for the first split) and
 * reads past its end to finish its last line, so every line is read exactly once.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { resolve } from "node:path";
import type { InputFile } from "./inputs.js";

export type { Split } from "./security/messages.js";
import type { Split } from "./security/messages.js";
import { SheafError } from "./errors.js";
import { isObjectUrl } from "./store/location.js";

/** Like Hadoop's SPLIT_SLOP: a tail up to 10% over the split size stays with the last split. */
const SLOP = 1.1;

/** `file` in each split is the path as listed; `cwd` resolves it for reading. */
export function planSplits(files: readonly InputFile[], splitSize: number, countLines = false, cwd = process.cwd()): Split[] {
  if (!(splitSize >= 1)) throw new SheafError("BAD_OPTION", `split size must be at least 1 byte, got ${splitSize}`);
  const splits: Split[] = [];
  for (const f of files) {
    if (f.size === 0) continue;
    const fileSplits: Split[] = [];
    let start = 0;
    while (f.size - start > splitSize * SLOP) {
      fileSplits.push({ file: f.path, start, end: start + splitSize });
      start += splitSize;
    }
    fileSplits.push({ file: f.path, start, end: f.size });
    // An object is not scanned at planning (that would read it whole): its records carry byte offsets, not line numbers.
    if (countLines && !isObjectUrl(f.path)) numberLines(resolve(cwd, f.path), fileSplits);
    splits.push(...fileSplits);
  }
  return splits;
}

/** One scan of the file: the first line of a split starting at s is after the first '\n' at or past s-1. */
function numberLines(path: string, splits: Split[]): void {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let newlines = 0; // newlines before filePos
    let filePos = 0;
    let next = 0; // next split to number
    let lastNl = -1; // file offset of the newline that started the last numbered split
    while (next < splits.length && splits[next]!.start === 0) splits[next++]!.firstLine = 1;
    while (next < splits.length) {
      const n = readSync(fd, buf, 0, buf.length, filePos);
      if (n <= 0) break;
      let i = 0;
      while (next < splits.length) {
        // A long line can hold several split starts: those splits share the first line after it.
        if (splits[next]!.start - 1 <= lastNl) { splits[next++]!.firstLine = newlines + 1; continue; }
        const from = Math.max(i, splits[next]!.start - 1 - filePos);
        if (from >= n) break;
        // Count newlines in [i, from), then find the first newline at or after `from`.
        for (let j = buf.indexOf(10, i); j >= 0 && j < from; j = buf.indexOf(10, j + 1)) newlines++;
        const nl = buf.indexOf(10, from);
        if (nl < 0 || nl >= n) { i = from; break; }
        newlines++;
        lastNl = filePos + nl;
        splits[next++]!.firstLine = newlines + 1;
        i = nl + 1;
      }
      for (let j = buf.indexOf(10, i); j >= 0 && j < n; j = buf.indexOf(10, j + 1)) newlines++;
      filePos += n;
    }
    // Splits past the last newline own no line; their numbering is never used.
    for (; next < splits.length; next++) splits[next]!.firstLine = newlines + 1;
  } finally {
    closeSync(fd);
  }
}

/** Parses sizes like `64m`, `512k`, `1g` or plain bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(text);
  if (!m) throw new SheafError("BAD_OPTION", `not a size: ${JSON.stringify(text)} (expected bytes, or a number with k, m, g or t)`);
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g" | "t"];
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes < 1) throw new SheafError("BAD_OPTION", `size must be at least 1 byte: ${JSON.stringify(text)}`);
  return bytes;
}
