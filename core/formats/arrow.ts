/**
 * Arrow IPC input and output. A file in the IPC file format is split by record batch: its footer
 * lists every batch's place, so a split reads only its own batches through a file handle. A file
 * in the stream format has no footer and is read whole, in one split. Output is an IPC file,
 * written batch by batch through a small buffered sink, so memory stays bounded.
 */
import { closeSync, fsyncSync, openSync, rmSync, writeSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { isObjectUrl } from "../store/location.js";
import { objectFile } from "../store/object-file.js";
import { resolve } from "node:path";
import {
  AsyncByteQueue, Message, RecordBatchFileWriter, RecordBatchReader, Schema as ArrowSchema,
  type Data, type RecordBatch,
} from "./arrow-lib.js";
import type { ArrowFormat } from "../api/formats.js";
import type { Key } from "../api/types.js";
import { SheafError, messageOf } from "../errors.js";
import type { InputFile } from "../inputs.js";
import type { Split } from "../splits.js";
import { RowFitter, SplitCursor, bytesThrough, schemaDifference } from "./arrow-rows.js";
import type { InputReader, ReadBatch, ReadOptions, ReadStats, RecordWriter, WriteProgress, WriteTarget } from "./format.js";

const MAGIC = "ARROW1";

export function badInput(file: string, why: string): SheafError {
  return new SheafError("BAD_INPUT", `${file}: ${why}`);
}

/** Runs a step of the format library; what it throws becomes BAD_INPUT naming the file. */
export async function guard<T>(file: string, what: string, step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof SheafError) throw err;
    throw badInput(file, `${what}: ${messageOf(err)}`);
  }
}

interface Block {
  offset: number;
  metaDataLength: number;
  bodyLength: number;
}

interface Opened {
  fh: FileHandle;
  reader: RecordBatchReader;
  size: number;
  /** The footer's record batches; undefined for the stream format. */
  blocks: Block[] | undefined;
}

/** Opens an Arrow IPC file or stream and checks that its footer (if any) fits in the file. */
async function openArrow(path: string, file: string): Promise<Opened> {
  // An object is read as a file is, by range (store/object-file.ts).
  const fh = await guard(file, "cannot open", () => (isObjectUrl(file) ? objectFile(file) : open(path, "r")));
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(Math.min(size, 6));
    const tail = Buffer.alloc(Math.min(size, 6));
    await fh.read(head, 0, head.length, 0);
    await fh.read(tail, 0, tail.length, size - tail.length);
    // apache-arrow takes any file starting with the magic for a complete one and reads garbage as its footer.
    if (head.toString("latin1") === MAGIC && (size < 12 || tail.toString("latin1") !== MAGIC)) {
      throw badInput(file, "truncated Arrow IPC file (no footer at its end)");
    }
    const reader = await guard(file, "not a readable Arrow IPC file", async () => {
      const r = await RecordBatchReader.from(fh);
      await r.open({ autoDestroy: false });
      if (!r.schema) throw new Error("no schema");
      return r;
    });
    let blocks: Block[] | undefined;
    if (reader.isFile() && reader.footer) {
      blocks = [...reader.footer.recordBatches()].map((b) => ({ offset: b.offset, metaDataLength: b.metaDataLength, bodyLength: b.bodyLength }));
      blocks.forEach((b, i) => {
        if (b.offset + b.metaDataLength + b.bodyLength > size) throw badInput(file, `record batch ${i} lies past the end of the file (truncated?)`);
      });
    }
    return { fh, reader, size, blocks };
  } catch (err) {
    await fh.close().catch(() => {});
    throw err;
  }
}

/** Row counts of the given batches, from their message headers alone (no bodies read). */
async function rowCounts(fh: FileHandle, blocks: readonly Block[], file: string): Promise<number[]> {
  const counts: number[] = [];
  for (const [i, b] of blocks.entries()) {
    const buf = Buffer.alloc(b.metaDataLength);
    await fh.read(buf, 0, buf.length, b.offset);
    const count = await guard(file, `bad header of record batch ${i}`, () => {
      // A message is a 0xFFFFFFFF continuation marker (absent in pre-1.0 files), its length, then its flatbuffer.
      const start = buf.readInt32LE(0) === -1 ? 8 : 4;
      const message = Message.decode(buf.subarray(start));
      if (!message.isRecordBatch()) throw new Error("not a record batch");
      return message.header().length;
    });
    counts.push(count);
  }
  return counts;
}

/** Bytes a batch's buffers hold: the progress estimate of a stream, which has no byte offsets. */
function dataBytes(d: Data): number {
  let n = (d.values?.byteLength ?? 0) + (d.nullBitmap?.byteLength ?? 0) + (d.valueOffsets?.byteLength ?? 0);
  for (const c of d.children) n += dataBytes(c);
  return n;
}

/**
 * Files with columns and rows must share the first such file's schema: a map over mixed inputs
 * would see rows of different shapes. A file with no rows (or no columns) is not compared.
 */
export class SchemaCheck {
  private first: { file: string; schema: ArrowSchema } | undefined;
  check(file: string, schema: ArrowSchema, empty: boolean): void {
    if (empty || schema.fields.length === 0) return;
    if (!this.first) this.first = { file, schema };
    const diff = schemaDifference(this.first.schema, schema);
    if (diff) throw badInput(file, `its schema differs from ${this.first.file}'s: ${diff}`);
  }
}

/** Consecutive units (batches, row groups) grouped into splits of about `splitSize` bytes, at least one unit each. */
export function groupUnits(file: string, sizes: readonly number[], splitSize: number, unit: "batches" | "rowGroups"): Split[] {
  const splits: Split[] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < sizes.length; i++) {
    if (i > start && bytes + sizes[i]! > splitSize) {
      splits.push({ file, start, end: i, unit, bytes });
      start = i;
      bytes = 0;
    }
    bytes += sizes[i]!;
  }
  if (sizes.length > start) splits.push({ file, start, end: sizes.length, unit, bytes });
  return splits;
}

export const arrowReader: InputReader = {
  async plan(files: readonly InputFile[], splitSize: number, cwd: string): Promise<Split[]> {
    if (!(splitSize >= 1)) throw new SheafError("BAD_OPTION", `split size must be at least 1 byte, got ${splitSize}`);
    const splits: Split[] = [];
    const schemas = new SchemaCheck();
    for (const f of files) {
      if (f.size === 0) continue;
      const { fh, reader, blocks } = await openArrow(isObjectUrl(f.path) ? f.path : resolve(cwd, f.path), f.path);
      await fh.close().catch(() => {});
      schemas.check(f.path, reader.schema, blocks !== undefined && blocks.length === 0);
      if (!blocks) splits.push({ file: f.path, start: 0, end: f.size, unit: "whole", bytes: f.size });
      // Record batches are the unit of parallelism: only small ones are grouped (up to 8 MiB, or --split-size if smaller).
      else splits.push(...groupUnits(f.path, blocks.map((b) => b.metaDataLength + b.bodyLength), Math.min(splitSize, 8 << 20), "batches"));
    }
    return splits;
  },

  async read(split: Split, onBatch: (batch: ReadBatch) => void | Promise<void>, options: ReadOptions): Promise<ReadStats> {
    const file = split.file;
    const { fh, reader, size, blocks } = await openArrow(isObjectUrl(file) ? file : resolve(options.cwd, file), file);
    try {
      if (split.unit === "batches") {
        if (!blocks) throw badInput(file, "the split reads record batches but the file is in the stream format (was it replaced?)");
        const counts = await rowCounts(fh, blocks.slice(0, split.end), file);
        const units = blocks.slice(split.start, split.end).map((b, i) => ({ rows: counts[split.start + i]!, bytes: b.metaDataLength + b.bodyLength }));
        const cursor = new SplitCursor(split, counts.slice(0, split.start).reduce((a, b) => a + b, 0), onBatch);
        for (let i = split.start; i < split.end; i++) {
          const n = counts[i]!;
          const [before, after] = [bytesThrough(units, cursor.done), bytesThrough(units, cursor.done + n)];
          if (cursor.skips(n)) {
            await cursor.pass(undefined, n, before, after); // skipped without reading its body
            continue;
          }
          const batch = await guard(file, `cannot read record batch ${i}`, () => reader.readRecordBatch(i));
          if (!batch || batch.numRows !== n) throw badInput(file, `record batch ${i} is missing or unreadable`);
          await cursor.pass(batch, n, before, after);
        }
        return cursor.stats();
      }
      // The stream format: read in order; progress is the batches' buffer sizes, up to the file size.
      const cursor = new SplitCursor(split, 0, onBatch);
      let bytes = 0;
      for (;;) {
        const next = await guard(file, "cannot read the Arrow stream", () => reader.next());
        if (next.done) break;
        const batch = next.value as RecordBatch;
        const before = bytes;
        bytes = Math.min(size, bytes + dataBytes(batch.data));
        await cursor.pass(batch, batch.numRows, before, bytes);
      }
      cursor.end(size);
      return cursor.stats();
    } finally {
      await fh.close().catch(() => {});
    }
  },
};

/**
 * apache-arrow's writers push their output into an AsyncByteQueue; one that writes to a file
 * descriptor instead keeps nothing in memory. Small pieces (headers, padding) are gathered into
 * writes of about 1 MiB.
 */
class FdSink extends AsyncByteQueue {
  bytes = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  constructor(private readonly fd: number) {
    super();
  }
  override write(value: Parameters<AsyncByteQueue["write"]>[0]): void {
    const chunk = ArrayBuffer.isView(value) ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : new Uint8Array(value as ArrayBufferLike);
    if (chunk.byteLength === 0) return;
    this.bytes += chunk.byteLength;
    if (chunk.byteLength >= 256 << 10) {
      this.drain();
      writeFully(this.fd, chunk);
      return;
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.byteLength;
    if (this.pendingBytes >= 1 << 20) this.drain();
  }
  drain(): void {
    if (this.pendingBytes > 0) writeFully(this.fd, Buffer.concat(this.pending));
    this.pending = [];
    this.pendingBytes = 0;
  }
  override close(): void {
    this.drain();
  }
}

export function writeFully(fd: number, chunk: Uint8Array): void {
  for (let at = 0; at < chunk.byteLength; ) at += writeSync(fd, chunk, at, chunk.byteLength - at);
}

class ArrowRecordWriter implements RecordWriter {
  private readonly fd: number;
  private readonly sink: FdSink;
  private readonly writer = new RecordBatchFileWriter();
  private readonly rows: RowFitter;
  private records = 0;
  private started = false;
  private closed = false;

  constructor(format: ArrowFormat, private readonly target: WriteTarget) {
    this.rows = new RowFitter(format.schema);
    this.fd = openSync(target.path, "w");
    this.sink = new FdSink(this.fd);
  }

  get size(): number {
    return this.sink.bytes + (this.rows.builder?.bytes ?? 0);
  }

  write(key: Key, value: unknown): void {
    const full = this.rows.add(key, value);
    this.records++;
    if (full) this.flush();
  }

  private flush(): void {
    const builder = this.rows.finalBuilder();
    if (!this.started) {
      this.writer.reset(this.sink, builder.schema);
      this.started = true;
    }
    if (builder.length > 0) this.writer.write(builder.flush());
  }

  sync(): WriteProgress | undefined {
    return undefined;
  }

  async close(): Promise<WriteProgress> {
    this.flush();
    this.writer.close(); // writes the footer; the sink drains
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.closed = true;
    return { bytes: this.sink.bytes, records: this.records };
  }

  async abandon(): Promise<void> {
    discardFile(this.fd, this.target.path, this.closed);
    this.closed = true;
  }
}

/** Drops a part an attempt gave up on: its descriptor (unless closed already) and its file. */
export function discardFile(fd: number, path: string, closed: boolean): void {
  if (!closed) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
  rmSync(path, { force: true });
}

export function createArrowWriter(format: ArrowFormat, target: WriteTarget): RecordWriter {
  return new ArrowRecordWriter(format, target);
}
