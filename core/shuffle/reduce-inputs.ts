/**
 * The list of committed map outputs every reduce task reads, written once per change by the driver
 * into the job's scratch space. A reduce task's message names this file (path, count, CRC), not
 * the outputs themselves, so its size does not grow with the number of map tasks.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { crc32 } from "node:zlib";
import { SheafError } from "../errors.js";
import { below } from "../storage.js";
import { isObjectUrl } from "../store/location.js";
import { putObject } from "../store/s3.js";

export type { MapOutputRef, ReduceInputs } from "../security/messages.js";
import type { MapOutputRef, ReduceInputs } from "../security/messages.js";

/**
 * Writes the list (content-addressed: the same list is written once) and returns its reference. In
 * a store workdir it is an object, which each worker fetches into its copy of the workdir.
 */
export async function writeReduceInputs(scratch: string, refs: readonly MapOutputRef[]): Promise<ReduceInputs> {
  const body = Buffer.from(JSON.stringify(refs));
  const crc = crc32(body);
  const path = below(scratch, `reduce-inputs-${refs.length}-${crc.toString(16).padStart(8, "0")}.json`);
  if (isObjectUrl(path)) await putObject(path, body);
  else if (!existsSync(path)) {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, body);
    renameSync(tmp, path);
  }
  return { path, maps: refs.length, crc };
}

/**
 * The list a reduce task reads, unchecked (the worker checks it against its schema); a file missing
 * or not matching its reference fails the attempt (retried with a fresh list).
 */
export function readReduceInputs(ref: ReduceInputs): unknown[] {
  let body: Buffer;
  try {
    body = readFileSync(ref.path);
  } catch (err) {
    throw new SheafError("REDUCE_INPUTS_LOST", `list of map outputs ${ref.path} cannot be read: ${(err as Error).message}`, true);
  }
  const refs = crc32(body) === ref.crc ? (JSON.parse(body.toString("utf8")) as unknown) : undefined;
  if (!Array.isArray(refs) || refs.length !== ref.maps) throw new SheafError("REDUCE_INPUTS_LOST", `list of map outputs ${ref.path} fails its checksum`, true);
  return refs;
}
