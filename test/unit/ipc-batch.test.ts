/**
 * The IPC stream bytes the Parquet writer hands to wasm (core/formats/ipc-batch.ts), read back by
 * both independent IPC readers that see them: apache-arrow's and parquet-wasm's (arrow-rs, whose
 * flatbuffer verifier checks the hand-laid message). Each must give back the batch it was given.
 */
import {
  Bool, DateDay, Float64, Int32, Int64, RecordBatch, Table, TimestampMillisecond, Utf8, Dictionary, tableFromIPC, tableToIPC, vectorFromArray,
} from "apache-arrow";
import * as pw from "parquet-wasm/node";
import { describe, expect, it } from "vitest";
import { IpcBatchEncoder, schemaMessage } from "../../core/formats/ipc-batch.js";

/** A batch of every flat type, with nulls in some columns and none in others. */
function batchOf(n: number, seed: number): RecordBatch {
  const pick = <T>(i: number, v: T, every = 7): T | null => ((i * 31 + seed) % every === 0 ? null : v);
  const ix = Array.from({ length: n }, (_, i) => i);
  return new Table({
    id: vectorFromArray(ix.map((i) => BigInt(i) * 1_000_003n - 5n), new Int64()),
    n: vectorFromArray(ix.map((i) => pick(i, i - 40)), new Int32()),
    x: vectorFromArray(ix.map((i) => pick(i, i / 3, 5)), new Float64()),
    s: vectorFromArray(ix.map((i) => pick(i, ["", "a", "日本 😀", 'q"uote,', "x".repeat(i % 50)][i % 5]!, 4)), new Utf8()),
    t: vectorFromArray(ix.map((i) => (i % 3 ? true : i % 2 ? false : null)), new Bool()),
    d: vectorFromArray(ix.map((i) => pick(i, new Date(Date.UTC(1960 + (i % 90), i % 12, 1 + (i % 28))))), new DateDay()),
    ts: vectorFromArray(ix.map((i) => new Date(1_700_000_000_000 + i * 997)), new TimestampMillisecond()),
  }).batches[0]!;
}

const rows = (t: Table) => t.toArray().map((r) => JSON.stringify(r.toJSON(), (_k, v) => (typeof v === "bigint" ? String(v) : v)));

describe("IpcBatchEncoder", () => {
  it("writes batches that apache-arrow and parquet-wasm read back as they were", () => {
    const first = batchOf(100, 1);
    const encoder = new IpcBatchEncoder(schemaMessage(tableToIPC(new Table(first), "stream")));
    for (const [n, seed] of [[100, 1], [1, 2], [1000, 4], [8, 5], [9, 6]] as const) {
      const batch = batchOf(n, seed);
      const bytes = encoder.encode(batch);
      expect(bytes).toBeDefined();
      const want = rows(new Table(batch));
      const back = tableFromIPC(bytes!);
      expect(rows(back)).toEqual(want);
      expect(back.batches[0]?.data.children.map((c) => c.nullCount) ?? []).toEqual(batch.data.children.map((c) => c.nullCount));
      // parquet-wasm: its own reader, then back out to apache-arrow.
      const table = pw.Table.fromIPCStream(bytes!);
      expect(rows(tableFromIPC(table.intoIPCStream()))).toEqual(want);
    }
  });

  it("declines what it does not write: sliced data and dictionary columns", () => {
    const batch = batchOf(50, 1);
    const encoder = new IpcBatchEncoder(schemaMessage(tableToIPC(new Table(batch), "stream")));
    expect(encoder.encode(batch.slice(10, 20))).toBeUndefined();
    const dict = new Table({ c: vectorFromArray(["a", "b", "a"], new Dictionary(new Utf8(), new Int32())) }).batches[0]!;
    expect(new IpcBatchEncoder(schemaMessage(tableToIPC(new Table(dict), "stream"))).encode(dict)).toBeUndefined();
  });
});
