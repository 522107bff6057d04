/**
 * apache-arrow as the engine loads it: the whole package bundled into one file at build time
 * (tools/bundle-arrow.mjs: `dist/vendor/apache-arrow.cjs`, its Node entry with the names kept), not
 * the ~150 ES modules `import … from "apache-arrow"` resolves to. Loading those cost 90-180 ms in
 * every thread of every job with a columnar input or output; the one file loads in about 25 ms.
 *
 * Every engine module takes its apache-arrow values from here, never from "apache-arrow" itself
 * (test/unit/arrow-lib.test.ts checks it): two copies in one thread would not recognise each
 * other's classes (`instanceof`), and would load both. Types still come from "apache-arrow".
 * A job's own `import … from "apache-arrow"` is bundled into its artifact, a copy of its own, as before.
 */
import { createRequire } from "node:module";
import type * as Arrow from "apache-arrow";

function load(): typeof Arrow {
  const require = createRequire(import.meta.url);
  // From dist/core/formats (the build), or from core/formats run as source (tests, after a build).
  for (const path of ["../../vendor/apache-arrow.cjs", "../../dist/vendor/apache-arrow.cjs"]) {
    try {
      return require(path) as typeof Arrow;
    } catch (err) {
      if ((err as { code?: unknown }).code !== "MODULE_NOT_FOUND") throw err;
    }
  }
  return require("apache-arrow") as typeof Arrow; // not built: the package's own CommonJS build, same sources
}

const arrow = load();

// Each class is exported as a value and as a type under one name, as "apache-arrow" does.
export const AsyncByteQueue = arrow.AsyncByteQueue;
export type AsyncByteQueue = Arrow.AsyncByteQueue;
export const Bool = arrow.Bool;
export type Bool = Arrow.Bool;
export const DateDay = arrow.DateDay;
export type DateDay = Arrow.DateDay;
export const Field = arrow.Field;
export type Field<T extends Arrow.DataType = any> = Arrow.Field<T>;
export const Float64 = arrow.Float64;
export type Float64 = Arrow.Float64;
export const Int32 = arrow.Int32;
export type Int32 = Arrow.Int32;
export const Int64 = arrow.Int64;
export type Int64 = Arrow.Int64;
export const Message = arrow.Message;
export type Message<T extends Arrow.MessageHeader = any> = Arrow.Message<T>;
export const RecordBatch = arrow.RecordBatch;
export type RecordBatch<T extends Arrow.TypeMap = any> = Arrow.RecordBatch<T>;
export const RecordBatchFileWriter = arrow.RecordBatchFileWriter;
export type RecordBatchFileWriter<T extends Arrow.TypeMap = any> = Arrow.RecordBatchFileWriter<T>;
export const RecordBatchReader = arrow.RecordBatchReader;
export type RecordBatchReader<T extends Arrow.TypeMap = any> = Arrow.RecordBatchReader<T>;
export const Schema = arrow.Schema;
export type Schema<T extends Arrow.TypeMap = any> = Arrow.Schema<T>;
export const Struct = arrow.Struct;
export type Struct<T extends Arrow.TypeMap = any> = Arrow.Struct<T>;
export const Table = arrow.Table;
export type Table<T extends Arrow.TypeMap = any> = Arrow.Table<T>;
export const Timestamp = arrow.Timestamp;
export type Timestamp = Arrow.Timestamp;
export const TimeUnit = arrow.TimeUnit;
export type TimeUnit = Arrow.TimeUnit;
export const Type = arrow.Type;
export type Type = Arrow.Type;
export const Utf8 = arrow.Utf8;
export type Utf8 = Arrow.Utf8;
export const makeData = arrow.makeData;
export const tableFromIPC = arrow.tableFromIPC;
export const tableToIPC = arrow.tableToIPC;
// DataType as a value too: its static checks (DataType.isInt(…)) tell a column's type.
export const DataType = arrow.DataType;
export type DataType<T extends Arrow.Type = Arrow.Type, C extends Arrow.TypeMap = any> = Arrow.DataType<T, C>;
export type { Data, Vector } from "apache-arrow";
