/**
 * Streams the lines of a gzip file (one split per file: gzip cannot start mid-stream), in the same
 * LineBatch shape as the byte-range scanner. Offsets and line numbers count in the decompressed
 * text. A resumed read skips the lines an earlier attempt already mapped.
 */
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { isObjectUrl } from "../store/location.js";
import { readRange } from "../store/s3.js";
import { resolve } from "node:path";
import { createGunzip } from "node:zlib";
import { SheafError, messageOf } from "../errors.js";
import type { Split } from "../splits.js";
import { LineBatch, MAX_LINE } from "./line-reader.js";

const NL = 10;
const CR = 13;
const BATCH_BYTES = 1 << 20;

export function isGzip(path: string): boolean {
  return path.endsWith(".gz");
}

export interface GzipLineStats {
  /** Compressed bytes read. */
  bytes: number;
  lines: number;
}

/**
 * Calls `onBatch` with runs of whole lines and the compressed bytes read so far; `split.skip`
 * lines are dropped first. A corrupt or truncated stream fails naming the file.
 */
export async function readGzipLines(
  split: Split,
  onBatch: (batch: LineBatch, compressedBytes: number, linesThrough: number) => void | Promise<void>,
  cwd: string,
): Promise<GzipLineStats> {
  // An object is streamed whole: a gzip stream cannot be entered in the middle.
  const file: Readable = isObjectUrl(split.file) ? ((await readRange(split.file, 0, split.end)) ?? Readable.from([])) : createReadStream(resolve(cwd, split.file), { highWaterMark: 1 << 16 });
  let compressed = 0;
  file.on("data", (c: Buffer) => void (compressed += c.length));
  const gunzip = createGunzip();
  const text = file.pipe(gunzip);
  file.on("error", (err: Error) => gunzip.destroy(err));
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let offset = 0; // decompressed offset of the first pending byte
  let line = 1; // number of the first pending line
  let toSkip = split.skip ?? 0;
  const stats: GzipLineStats = { bytes: 0, lines: 0 };
  let fromCallback: unknown; // what the consumer threw passes through untouched

  const emit = async (region: Buffer, terminated: boolean): Promise<void> => {
    let start = 0;
    // Drop the lines an earlier attempt mapped, without decoding them.
    while (toSkip > 0 && start < region.length) {
      const nl = region.indexOf(NL, start);
      if (nl < 0) { start = region.length; break; }
      start = nl + 1;
      toSkip--;
      line++;
    }
    const rest = region.subarray(start);
    const base = offset + start;
    offset += region.length;
    if (rest.length === 0) return;
    const str = rest.toString("utf8", 0, terminated ? rest.length - 1 : rest.length);
    const lines = str.split("\n");
    if (rest.indexOf(CR) >= 0) {
      const last = terminated ? lines.length : lines.length - 1;
      for (let i = 0; i < last; i++) if (lines[i]!.charCodeAt(lines[i]!.length - 1) === CR) lines[i] = lines[i]!.slice(0, -1);
    }
    const batch = new LineBatch(lines, rest, base, line);
    line += lines.length;
    stats.lines += lines.length;
    try {
      await onBatch(batch, compressed, line - 1);
    } catch (err) {
      fromCallback = err;
      throw err;
    }
  };

  try {
    for await (const chunk of text as AsyncIterable<Buffer>) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes < BATCH_BYTES) continue;
      const buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      const lastNl = buf.lastIndexOf(NL);
      if (lastNl < 0) {
        // One long line: keep reading, up to the same bound as plain files.
        if (buf.length > MAX_LINE) throw new SheafError("RECORD_TOO_LARGE", `a line longer than ${MAX_LINE / (1 << 20)} MiB at ${split.file} byte ${offset} (decompressed)`);
        pending = [buf];
        continue;
      }
      await emit(buf.subarray(0, lastNl + 1), true);
      const tail = buf.subarray(lastNl + 1);
      pending = tail.length ? [Buffer.from(tail)] : [];
      pendingBytes = tail.length;
    }
    if (pendingBytes > 0) {
      const buf = Buffer.concat(pending, pendingBytes);
      const terminated = buf[buf.length - 1] === NL;
      await emit(buf, terminated);
    }
  } catch (err) {
    if (err === fromCallback || err instanceof SheafError) throw err;
    const code = (err as { code?: string }).code;
    if (code === "ENOENT") throw new SheafError("MISSING_INPUT", `input not found: ${split.file}`);
    // zlib gives every error it raises a Z_* code (a truncated file: Z_BUF_ERROR; a bad header or block: Z_DATA_ERROR).
    if (code?.startsWith("Z_")) {
      throw new SheafError("BAD_INPUT", `${split.file} is not a valid gzip file (at decompressed byte ${offset + pendingBytes}): ${messageOf(err)}`);
    }
    throw err;
  } finally {
    file.destroy();
    gunzip.destroy();
  }
  stats.bytes = compressed;
  return stats;
}
