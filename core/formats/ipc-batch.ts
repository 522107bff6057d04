/**
 * Arrow IPC stream bytes of a flat record batch (numbers, dates, timestamps, booleans, strings),
 * written straight into one reused buffer: what the Parquet writer hands to wasm, which copies
 * them at once. apache-arrow's `tableToIPC` copied every buffer twice into fresh memory per batch
 * (its message chunks, then their join). The schema message is apache-arrow's, made once per part;
 * a batch with anything else (nested or dictionary columns, sliced data) returns undefined, and the
 * caller uses `tableToIPC`.
 */
import type { Data, RecordBatch } from "apache-arrow";

const CONTINUATION = 0xffffffff;
const V5 = 4; // MetadataVersion.V5
const RECORD_BATCH = 3; // MessageHeader.RecordBatch
/** Type ids (apache-arrow's Type enum) of the columns written here; Int and FloatingPoint have two buffers, Utf8 three. */
const INT = 2, FLOAT = 3, UTF8 = 5, BOOL = 6, DATE = 8, TIMESTAMP = 10;
const FLAT = new Set([INT, FLOAT, UTF8, BOOL, DATE, TIMESTAMP]);

const pad8 = (n: number): number => (n + 7) & ~7;

export class IpcBatchEncoder {
  private buf = new Uint8Array(1 << 16);

  /** `schema`: the stream's schema message, framed (apache-arrow's bytes up to the first batch). */
  constructor(private readonly schema: Uint8Array) {}

  /** The stream [schema, batch, end]; valid until the next call. Undefined for a batch this does not write. */
  encode(batch: RecordBatch): Uint8Array | undefined {
    const columns = batch.data.children as Data[];
    const buffers: (Uint8Array | undefined)[] = [];
    for (const d of columns) {
      const id = d.type.typeId as number;
      if (!FLAT.has(id) || d.offset !== 0 || d.children.length > 0 || d.length !== batch.numRows) return undefined;
      const n = d.length;
      const valid = d.nullCount > 0 ? bytes(d.nullBitmap, (n + 7) >> 3) : EMPTY;
      if (id === UTF8) {
        const offsets = d.valueOffsets as Int32Array;
        buffers.push(valid, bytes(offsets, 4 * (n + 1)), bytes(d.values as Uint8Array, offsets[n]!));
      } else if (id === BOOL) buffers.push(valid, bytes(d.values as Uint8Array, (n + 7) >> 3));
      else {
        const values = d.values as Uint8Array; // any typed array: its element size (times the stride) is the column's width
        buffers.push(valid, bytes(values, n * values.BYTES_PER_ELEMENT * (d.stride ?? 1)));
      }
    }
    if (buffers.includes(undefined)) return undefined;
    const nodes = columns.length;
    const count = buffers.length;
    // The Message flatbuffer laid out front to back (uoffsets point forward, as the format allows).
    const vectors = 80;
    const nodesEnd = vectors + 8 + 16 * nodes;
    const meta = pad8(nodesEnd + 8 + 16 * count);
    let body = 0;
    for (const b of buffers) body += pad8(b!.byteLength);
    const total = this.schema.byteLength + 8 + meta + body + 8;
    if (this.buf.byteLength < total) this.buf = new Uint8Array(Math.max(total, 2 * this.buf.byteLength));
    const out = this.buf;
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    out.set(this.schema, 0);
    let p = this.schema.byteLength;
    view.setUint32(p, CONTINUATION, true);
    view.setInt32(p + 4, meta, true);
    const m = p + 8; // the flatbuffer's start (8-aligned: the schema message is padded to 8)
    out.fill(0, m, m + meta);
    view.setUint32(m, 16, true); // root: the Message table
    // Message vtable at 4: its size, the table's, then version, header_type, header, bodyLength.
    for (const [k, v] of [12, 20, 16, 18, 4, 8].entries()) view.setUint16(m + 4 + 2 * k, v, true);
    view.setInt32(m + 16, 16 - 4, true); // the table's vtable, 12 bytes back
    view.setUint32(m + 20, 56 - 20, true); // header: the RecordBatch table
    view.setBigInt64(m + 24, BigInt(body), true);
    view.setInt16(m + 32, V5, true);
    out[m + 34] = RECORD_BATCH;
    // RecordBatch vtable at 40: its size, the table's, then length, nodes, buffers.
    for (const [k, v] of [10, 24, 8, 4, 16].entries()) view.setUint16(m + 40 + 2 * k, v, true);
    view.setInt32(m + 56, 56 - 40, true);
    view.setUint32(m + 60, vectors + 4 - 60, true); // nodes: the vector's length word
    view.setBigInt64(m + 64, BigInt(batch.numRows), true);
    view.setUint32(m + 72, nodesEnd + 4 - 72, true); // buffers
    // Vectors of structs: the length word just before 8-aligned elements.
    view.setUint32(m + vectors + 4, nodes, true);
    for (let j = 0; j < nodes; j++) {
      view.setBigInt64(m + vectors + 8 + 16 * j, BigInt(columns[j]!.length), true);
      view.setBigInt64(m + vectors + 16 + 16 * j, BigInt(columns[j]!.nullCount), true);
    }
    view.setUint32(m + nodesEnd + 4, count, true);
    p = m + meta;
    let at = 0;
    for (let k = 0; k < count; k++) {
      const b = buffers[k];
      const len = b!.byteLength;
      view.setBigInt64(m + nodesEnd + 8 + 16 * k, BigInt(at), true);
      view.setBigInt64(m + nodesEnd + 16 + 16 * k, BigInt(len), true);
      out.set(b!, p + at);
      out.fill(0, p + at + len, p + pad8(at + len));
      at = pad8(at + len);
    }
    p += body;
    view.setUint32(p, CONTINUATION, true);
    view.setInt32(p + 4, 0, true); // end of stream
    return out.subarray(0, p + 8);
  }
}

const EMPTY = new Uint8Array(0);

/** The first `n` bytes of a typed array's memory, or undefined when it holds fewer. */
function bytes(a: ArrayBufferView | undefined, n: number): Uint8Array | undefined {
  return !a || a.byteLength < n ? undefined : new Uint8Array(a.buffer, a.byteOffset, n);
}

/** The schema message of an IPC stream: its first message (a schema has no body). */
export function schemaMessage(stream: Uint8Array): Uint8Array {
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  return stream.slice(0, 8 + view.getInt32(4, true));
}
