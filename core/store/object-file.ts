/**
 * An object as the file handle apache-arrow reads an IPC file through (`fd`, `stat()`,
 * `read(buffer, offset, length, position)`, `close()`): each read is one ranged GET, so a reader
 * fetches the footer, then each record batch it decodes, never the whole object.
 */
import type { FileHandle } from "node:fs/promises";
import { SheafError } from "../errors.js";
import { headObject, readBytes } from "./s3.js";

export async function objectFile(url: string): Promise<FileHandle> {
  const info = await headObject(url);
  if (!info) throw new SheafError("MISSING_INPUT", `input not found: ${url}`);
  const handle = {
    fd: -1, // apache-arrow tells a file handle by its stat() and a numeric fd
    stat: async () => ({ size: info.size }),
    async read(buffer: Uint8Array, offset = 0, length = buffer.byteLength - offset, position = 0) {
      const bytes = await readBytes(url, position, Math.min(info.size, position + length));
      buffer.set(bytes, offset);
      return { bytesRead: bytes.length, buffer };
    },
    close: async () => {},
  };
  // Only the members above are ever used (see apache-arrow's AsyncRandomAccessFile, and arrow.ts).
  return handle as unknown as FileHandle;
}
