/**
 * Parquet input and output through parquet-wasm. Input is split by row group: a split reads only
 * its row groups' byte ranges (a Blob over the file), decoded in batches of 64k rows that become
 * apache-arrow record batches. Output streams record batches into the wasm Parquet writer and its
 * bytes to the part file; row groups are bounded in rows and bytes, so wasm memory stays bounded.
 */
import { closeSync, fsyncSync, openAsBlob, openSync } from "node:fs";
import { isObjectUrl } from "../store/location.js";
import { objectBlob, type ByteSource } from "../store/object-blob.js";
import { resolve } from "node:path";
import { DataType, Table, tableFromIPC, tableToIPC, type RecordBatch, type Schema as ArrowSchema } from "./arrow-lib.js";
import * as pw from "parquet-wasm/esm";
import { parquetWasmModule } from "./parquet-wasm.js";
import type { ParquetCompression, ParquetFormat } from "../api/formats.js";
import type { Key } from "../api/types.js";
import type { InputFile } from "../inputs.js";
import type { Split } from "../splits.js";
import { SchemaCheck, badInput, discardFile, groupUnits, guard, writeFully } from "./arrow.js";
import { RowFitter, SplitCursor, arrowSchema, bytesThrough } from "./arrow-rows.js";
import { fitBatch, isRecordBatch } from "./batch-fit.js";
import { IpcBatchEncoder, schemaMessage } from "./ipc-batch.js";
import type { InputReader, ReadBatch, ReadOptions, ReadStats, RecordWriter, WriteProgress, WriteTarget } from "./format.js";
import { SheafError } from "../errors.js";

// The esm build, instantiated from the module compiled once per process (parquet-wasm.ts): the
// node build compiles its own in every thread.
pw.initSync({ module: await parquetWasmModule() });

/** Rows per decoded batch: what `mapBatch` receives at most. */
const BATCH_ROWS = 65_536;
const MAX_ROW_GROUP_ROWS = 1 << 20;
/** The wasm writer holds a row group until it is complete: this bounds it (and the wasm heap, which never shrinks). */
const MAX_ROW_GROUP_BYTES = 64 << 20;

interface RowGroup {
  rows: number;
  bytes: number;
}

/** Opens a Parquet file: its row groups and schema, or BAD_INPUT naming the file. The caller frees it. */
async function openParquet(path: string, file: string): Promise<{ pf: pw.ParquetFile; groups: RowGroup[]; schema: ArrowSchema }> {
  // An object is read as a file is, by range: the footer, then each row group's bytes (store/object-blob.ts).
  const blob = await guard(file, "cannot open", async () => (isObjectUrl(file) ? objectBlob(file) : ((await openAsBlob(path)) as ByteSource)));
  const size = blob.size;
  // parquet-wasm asks its Blob only for size and slice(...).arrayBuffer() (no instanceof check).
  const pf = await guard(file, "not a readable Parquet file", () => pw.ParquetFile.fromFile(blob as Blob));
  try {
    return await guard(file, "not a readable Parquet file", () => {
      const meta = pf.metadata();
      const groups: RowGroup[] = [];
      try {
        for (let i = 0; i < meta.numRowGroups(); i++) {
          const rg = meta.rowGroup(i);
          groups.push({ rows: rg.numRows(), bytes: rg.compressedSize() });
          rg.free();
        }
      } finally {
        meta.free();
      }
      // A footer copied onto a shorter file would send the decoder past the end (a wasm trap, not an error).
      if (groups.reduce((a, g) => a + g.bytes, 0) > size) throw new Error("its row groups hold more bytes than the file (truncated?)");
      const schema = tableFromIPC(pf.schema().intoIPCStream()).schema;
      return { pf, groups, schema };
    });
  } catch (err) {
    pf.free();
    throw err;
  }
}

/**
 * Row groups are the unit of parallelism: only small ones are grouped into one split (up to this,
 * or --split-size if smaller, or a fair share of the input's bytes per task that can run at once).
 */
const GROUP_UP_TO = 8 << 20;

/** `columns` (from `parquet({ columns })`) limits what is decoded; the others are never read. */
export const parquetReader = (columns?: readonly string[]): InputReader => ({
  async plan(files: readonly InputFile[], splitSize: number, cwd: string, parallelism?: number): Promise<Split[]> {
    if (!(splitSize >= 1)) throw new SheafError("BAD_OPTION", `split size must be at least 1 byte, got ${splitSize}`);
    const schemas = new SchemaCheck();
    const sizes: { file: string; bytes: number[] }[] = [];
    for (const f of files) {
      if (f.size === 0) continue;
      const { pf, groups, schema } = await openParquet(isObjectUrl(f.path) ? f.path : resolve(cwd, f.path), f.path);
      pf.free();
      schemas.check(f.path, schema, groups.length === 0);
      if (columns) for (const c of columns) if (!schema.fields.some((fd) => fd.name === c)) throw badInput(f.path, `it has no column ${c} (parquet({ columns }))`);
      sizes.push({ file: f.path, bytes: groups.map((g) => g.bytes) });
    }
    // A 6.5 MB file of ten row groups was one task, and a second thread idled.
    const share = parallelism ? Math.ceil(sizes.reduce((a, s) => a + s.bytes.reduce((b, n) => b + n, 0), 0) / parallelism) : Infinity;
    const upTo = Math.max(1, Math.min(splitSize, GROUP_UP_TO, share));
    return sizes.flatMap((s) => groupUnits(s.file, s.bytes, upTo, "rowGroups"));
  },

  async read(split: Split, onBatch: (batch: ReadBatch) => void | Promise<void>, options: ReadOptions): Promise<ReadStats> {
    const file = split.file;
    const { pf, groups } = await openParquet(isObjectUrl(file) ? file : resolve(options.cwd, file), file);
    try {
      if (split.end > groups.length) throw badInput(file, `the split reads row groups ${split.start}-${split.end - 1} but the file has ${groups.length} (was it replaced?)`);
      const units = groups.slice(split.start, split.end);
      const cursor = new SplitCursor(split, groups.slice(0, split.start).reduce((a, g) => a + g.rows, 0), onBatch);
      // Row groups wholly done by an earlier attempt are not read at all.
      let first = split.start;
      while (first < split.end && cursor.skips(groups[first]!.rows)) {
        const n = groups[first++]!.rows;
        await cursor.pass(undefined, n, bytesThrough(units, cursor.done), bytesThrough(units, cursor.done + n));
      }
      if (first === split.end) return cursor.stats();
      const rowGroups = Array.from({ length: split.end - first }, (_, i) => first + i);
      const stream = await guard(file, "cannot read", () => pf.stream({ rowGroups, batchSize: BATCH_ROWS, ...(columns ? { columns: [...columns] } : {}) }));
      const iterator = (stream as ReadableStream<pw.RecordBatch>)[Symbol.asyncIterator]();
      try {
        for (;;) {
          const next = await guard(file, "cannot read", () => iterator.next());
          if (next.done) break;
          // Copies the batch out of wasm memory (and frees it there): apache-arrow reads the IPC bytes.
          const table = await guard(file, "cannot read", () => tableFromIPC(next.value.intoIPCStream()));
          for (const batch of table.batches) {
            const n = batch.numRows;
            await cursor.pass(batch as RecordBatch, n, bytesThrough(units, cursor.done), bytesThrough(units, cursor.done + n));
          }
        }
      } finally {
        await iterator.return?.().catch(() => {}); // cancels the rest of the stream after an error
      }
      return cursor.stats();
    } finally {
      pf.free();
    }
  },
});

const CODECS: Record<ParquetCompression, pw.Compression> = {
  zstd: pw.Compression.ZSTD,
  snappy: pw.Compression.SNAPPY,
  gzip: pw.Compression.GZIP,
  lz4: pw.Compression.LZ4_RAW,
  none: pw.Compression.UNCOMPRESSED,
};

/**
 * Rows are built into apache-arrow batches, handed to wasm as IPC bytes and fed to
 * `transformParquetStream` through a TransformStream: awaiting each write is the backpressure.
 * A consumer loop writes the Parquet bytes to the part file as they come.
 */
class ParquetRecordWriter implements RecordWriter {
  private readonly fd: number;
  private readonly rows: RowFitter;
  private input: WritableStreamDefaultWriter<pw.RecordBatch> | undefined;
  private output: Promise<void> | undefined;
  private failure: { error: unknown } | undefined;
  private written = 0;
  private records = 0;
  private closed = false;
  /** The part's Arrow schema once known (given, or from the first row or batch): emitted batches are fitted to it. */
  private arrow: ArrowSchema | undefined;
  /** Batches of this schema are encoded for wasm without apache-arrow's writer (ipc-batch.ts). */
  private ipc: { schema: ArrowSchema; encoder: IpcBatchEncoder } | undefined;

  constructor(private readonly format: ParquetFormat, private readonly target: WriteTarget, private readonly limits: ParquetWriterLimits) {
    this.rows = new RowFitter(format.schema);
    this.fd = openSync(target.path, "w");
  }

  get size(): number {
    return this.written + (this.rows.builder?.bytes ?? 0);
  }

  write(key: Key, value: unknown): void | Promise<void> {
    this.check();
    if (isRecordBatch(value)) return this.writeBatch(value);
    const full = this.rows.add(key, value);
    this.records++;
    if (full) return this.flush();
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
  }

  /** Starts the wasm writer; it reads the first batch (for the schema) before its output stream exists. */
  private start(schema: ArrowSchema): WritableStreamDefaultWriter<pw.RecordBatch> {
    const { readable, writable } = new TransformStream<pw.RecordBatch, pw.RecordBatch>();
    const input = writable.getWriter();
    let builder = new pw.WriterPropertiesBuilder()
      .setCompression(CODECS[this.format.compression] ?? pw.Compression.ZSTD)
      .setMaxRowGroupSize(this.limits.rowGroupRows ?? MAX_ROW_GROUP_ROWS)
      .setMaxRowGroupBytes(this.limits.rowGroupBytes ?? MAX_ROW_GROUP_BYTES)
      .setCreatedBy("sheaf");
    // Doubles, int64s and timestamps (measures, ids, instants) seldom repeat: a dictionary for them is
    // built only to be abandoned at its size limit. Without it, the benchmark's orders wrote 14% faster
    // and 8% smaller (bench/README.md); strings, int32s, booleans and dates keep theirs.
    for (const f of schema.fields) if (seldomRepeats(f.type)) builder = builder.setColumnDictionaryEnabled(f.name, false);
    const props = builder.build();
    this.output = pw.transformParquetStream(readable, props).then(async (out: ReadableStream<Uint8Array>) => {
      for await (const chunk of out) {
        writeFully(this.fd, chunk);
        this.written += chunk.byteLength;
      }
    });
    this.output.catch((error: unknown) => {
      this.failure ??= { error };
      void input.abort(error).catch(() => {}); // a write waiting for the wasm side must not wait forever
    });
    return input;
  }

  /** A whole record batch (a map-only job passing its input on): no rows are made. */
  private async writeBatch(batch: RecordBatch): Promise<void> {
    const given = this.format.schema ?? this.rows.schema;
    this.arrow ??= given ? arrowSchema(given) : batch.schema;
    const fitted = fitBatch(this.arrow, batch);
    if ((this.rows.builder?.length ?? 0) > 0) await this.flush(); // rows emitted before it stay before it
    this.records += batch.numRows;
    await this.send(fitted);
  }

  private async flush(): Promise<void> {
    const batch = this.rows.finalBuilder().flush();
    if (this.arrow && batch.numRows > 0) {
      // Rows after batches: the part keeps the batches' schema.
      await this.send(fitBatch(this.arrow, batch));
      return;
    }
    await this.send(batch);
  }

  private async send(batch: RecordBatch): Promise<void> {
    const input = (this.input ??= this.start(batch.schema));
    const table = pw.Table.fromIPCStream(this.ipcBytes(batch)); // copied into wasm memory here
    let batches: pw.RecordBatch[];
    try {
      batches = table.recordBatches();
    } finally {
      table.free();
    }
    try {
      for (const b of batches) await input.write(b); // the wasm side takes (and frees) each batch
    } catch (err) {
      this.check();
      throw err;
    }
  }

  /** The batch as an IPC stream: by the encoder for its schema when it writes it, else by apache-arrow. */
  private ipcBytes(batch: RecordBatch): Uint8Array {
    // apache-arrow gives every RecordBatch a Schema object of its own: compared by content.
    if (this.ipc && sameSchema(this.ipc.schema, batch.schema)) {
      const bytes = this.ipc.encoder.encode(batch);
      if (bytes) return bytes;
    }
    const stream = tableToIPC(new Table(batch), "stream");
    this.ipc = { schema: batch.schema, encoder: new IpcBatchEncoder(schemaMessage(stream)) };
    return stream;
  }

  sync(): WriteProgress | undefined {
    return undefined;
  }

  async close(): Promise<WriteProgress> {
    this.check();
    // A part with no rows still gets a file with its schema (an empty batch carries it).
    if (!this.input || (this.rows.builder?.length ?? 0) > 0) await this.flush();
    await this.input!.close().catch((err: unknown) => {
      this.check();
      throw err;
    });
    await this.output;
    this.check();
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.closed = true;
    return { bytes: this.written, records: this.records };
  }

  async abandon(): Promise<void> {
    if (this.input) {
      await this.input.abort(new Error("abandoned")).catch(() => {});
      await this.output?.catch(() => {});
    }
    discardFile(this.fd, this.target.path, this.closed);
    this.closed = true;
  }
}

/** Same fields (names, types, nullability) and metadata. */
function sameSchema(a: ArrowSchema, b: ArrowSchema): boolean {
  if (a === b) return true;
  if (a.fields.length !== b.fields.length || a.metadata.size !== b.metadata.size) return false;
  for (const [k, v] of a.metadata) if (b.metadata.get(k) !== v) return false;
  return a.fields.every((f, i) => {
    const g = b.fields[i]!;
    return f.name === g.name && f.nullable === g.nullable && f.metadata.size === 0 && g.metadata.size === 0 && String(f.type) === String(g.type);
  });
}

/** A double, an int64 or a timestamp column: written without a dictionary. */
function seldomRepeats(type: DataType): boolean {
  return DataType.isFloat(type) || DataType.isTimestamp(type) || (DataType.isInt(type) && type.bitWidth === 64);
}

/** Row group bounds; tests lower them to get several row groups from few rows. */
export interface ParquetWriterLimits {
  rowGroupRows?: number;
  rowGroupBytes?: number;
}

export function createParquetWriter(format: ParquetFormat, target: WriteTarget, limits: ParquetWriterLimits = {}): RecordWriter {
  return new ParquetRecordWriter(format, target, limits);
}
