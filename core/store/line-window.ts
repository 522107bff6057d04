/**
 * A text split of an object, read by range: its bytes are fetched into a local file (on the worker's
 * disk, not in memory), from the byte before the split (so the line reader can tell whether the split
 * starts mid-line) through the end of its last line, which may run past the split's end. Only the
 * split is fetched, never the whole object; the line reader then scans the copy as it scans a file.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Split } from "../splits.js";
import type { LocalWindow } from "../formats/line-reader.js";
import { readBytes, readRange } from "./s3.js";

/** Read past the split's end this much at a time, looking for the newline that ends its last line. */
const TAIL_CHUNK = 64 << 10;
const NL = 10;

export async function fetchLineWindow(split: Split): Promise<LocalWindow & { remove(): Promise<void> }> {
  const base = Math.max(0, split.start - 1);
  const path = join(tmpdir(), `sheaf-window-${randomBytes(6).toString("hex")}`);
  const out = createWriteStream(path);
  const remove = () => rm(path, { force: true });
  try {
    let last = -1; // the last byte written
    const body = await readRange(split.file, base, split.end);
    if (body) {
      body.on("data", (c: Buffer) => c.length && (last = c[c.length - 1]!));
      await pipeline(body, out, { end: false });
    }
    for (let at = split.end; last !== NL; at += TAIL_CHUNK) {
      const bytes = await readBytes(split.file, at, at + TAIL_CHUNK);
      if (bytes.length === 0) break; // the object's end
      const nl = bytes.indexOf(NL);
      out.write(nl >= 0 ? bytes.subarray(0, nl + 1) : bytes);
      last = nl >= 0 ? NL : bytes[bytes.length - 1]!;
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    return { path, base, remove };
  } catch (err) {
    out.destroy();
    await remove();
    throw err;
  }
}
