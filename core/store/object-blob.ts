/**
 * An object as the byte source parquet-wasm reads a file through (a Blob's `size` and
 * `slice(start, end).arrayBuffer()`): each slice is one ranged GET, so a reader fetches the footer
 * and the row groups it decodes, never the whole object.
 */
import { SheafError } from "../errors.js";
import { headObject, readBytes } from "./s3.js";

export interface ByteSource {
  readonly size: number;
  slice(start?: number, end?: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

export async function objectBlob(url: string): Promise<ByteSource> {
  const info = await headObject(url);
  if (!info) throw new SheafError("MISSING_INPUT", `input not found: ${url}`);
  const { size } = info;
  return {
    size,
    slice(start = 0, end = size) {
      const from = Math.max(0, start < 0 ? size + start : start);
      const to = Math.min(size, end < 0 ? size + end : end);
      return {
        async arrayBuffer() {
          const bytes = await readBytes(url, from, to);
          return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
        },
      };
    },
  };
}
