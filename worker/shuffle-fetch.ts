/**
 * The reduce side of the network shuffle: a reduce task's segment of each map output another worker
 * serves (its `url`), fetched into this worker's local dir before the task reaches a thread. It runs
 * on the worker's main thread, not beside job code: the shuffle key stays out of job code's reach.
 *
 * Per map output: its segment index (small, checked against the CRC the result carried), then this
 * partition's byte range, streamed to disk with its CRC computed on the way (memory bounded by a
 * socket chunk). A failed fetch (refused, reset, timed out, a bad status, a short body, a bad CRC)
 * is tried again after 200 ms, 800 ms and 2 s; then the map output is reported lost, as a corrupt
 * one on a shared disk is, and the driver re-runs the map task that wrote it.
 *
 * Two timeouts: connecting (CONNECT_MS), then receiving (IDLE_MS). A host cut off never answers a
 * connection, where a live one answers at once however busy its worker is (its kernel completes the
 * handshake; the server need not have accepted yet): so a short connect timeout gives up on a lost
 * host early, while a slow transfer from a live one still has the whole idle timeout.
 */
import { createWriteStream, mkdirSync, rmSync, writeFileSync, type WriteStream } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { randomBytes } from "node:crypto";
import { MAP_INDEX, MAP_OUTPUT, shuffleToken } from "../core/shuffle/remote.js";
import { CorruptSegmentError, type Segment } from "../core/shuffle/segment.js";
import type { MapOutputRef } from "../core/shuffle/reduce-inputs.js";
import { SheafError } from "../core/errors.js";

/** One try failed (reported, after the last, as the map output lost). */
const tryFailed = (message: string) => new SheafError("MAP_OUTPUT_LOST", message, true);
/** The host did not answer at all (as a refused connection): see DEAD_HOST_MS. */
class Unreachable extends SheafError {}

/** Waits before the 2nd, 3rd and 4th try of a fetch. */
export const FETCH_BACKOFF_MS = [200, 800, 2000];
/** A fetch that receives nothing for this long has failed. */
const IDLE_MS = 20_000;
/** A connection not made within this long has failed: time for the first SYN and two resends (at 1 s and 3 s). */
const CONNECT_MS = 5_000;
/** Map outputs fetched at once by one reduce task. */
const PARALLEL = 4;
/** A host that refused every try is tried once, not four times, for this long: its other outputs are lost too. */
const DEAD_HOST_MS = 15_000;
const ENTRY = 28;

const deadHosts = new Map<string, number>();

export interface FetchOptions {
  key: Buffer;
  /** Folder for this attempt's fetched segments (made here; the caller removes it). */
  dir: string;
  partition: number;
  partitions: number;
  signal?: AbortSignal;
  /** @defaultValue FETCH_BACKOFF_MS */
  backoffMs?: readonly number[];
  /** @defaultValue CONNECT_MS */
  connectMs?: number;
}

/** This partition's segment of each served map output in `refs`, as local files, by producer. */
export async function fetchSegments(refs: readonly MapOutputRef[], o: FetchOptions): Promise<Record<string, Segment>> {
  const served = refs.filter((r) => r.url !== undefined);
  const out: Record<string, Segment> = {};
  if (served.length === 0) return out;
  mkdirSync(o.dir, { recursive: true });
  let next = 0;
  let failed: unknown;
  const lane = async () => {
    while (failed === undefined && next < served.length) {
      const ref = served[next++]!;
      try {
        out[ref.producer] = await fetchWithRetries(ref, o);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, served.length) }, lane));
  if (failed !== undefined) throw failed;
  return out;
}

async function fetchWithRetries(ref: MapOutputRef, o: FetchOptions): Promise<Segment> {
  const origin = new URL(ref.url!).origin;
  const backoff = (deadHosts.get(origin) ?? 0) > Date.now() ? [] : (o.backoffMs ?? FETCH_BACKOFF_MS);
  let last: Error | undefined;
  for (let i = 0; ; i++) {
    if (o.signal?.aborted) throw o.signal.reason;
    try {
      const segment = await fetchOnce(ref, o);
      deadHosts.delete(origin);
      return segment;
    } catch (err) {
      if (o.signal?.aborted) throw o.signal.reason;
      last = err as Error;
    }
    if (i >= backoff.length) break;
    await new Promise((r) => setTimeout(r, backoff[i]));
  }
  if (last instanceof Unreachable || (last as NodeJS.ErrnoException).syscall !== undefined) deadHosts.set(origin, Date.now() + DEAD_HOST_MS);
  // Lost, as a corrupt file on a shared disk is: the same error, blamed on the map task (see toFailure).
  const lost = { path: ref.path, offset: 0, length: 0, records: 0, crc: 0, producer: ref.producer };
  throw new CorruptSegmentError(lost, `cannot be fetched from ${ref.url} (${backoff.length + 1} tries): ${last!.message}`);
}

async function fetchOnce(ref: MapOutputRef, o: FetchOptions): Promise<Segment> {
  const index = await get(`${ref.url}/${MAP_INDEX}`, o, undefined, 4 + o.partitions * ENTRY);
  if (crc32(index.body) !== ref.indexCrc) throw tryFailed("segment index fails its checksum");
  if (index.body.length !== 4 + o.partitions * ENTRY || index.body.readUInt32LE(0) !== o.partitions) throw tryFailed(`segment index does not hold ${o.partitions} partitions`);
  const at = 4 + o.partition * ENTRY;
  const [offset, length, records, crc] = [index.body.readDoubleLE(at), index.body.readDoubleLE(at + 8), index.body.readDoubleLE(at + 16), index.body.readUInt32LE(at + 24)];
  const path = join(o.dir, `${ref.producer}-${randomBytes(4).toString("hex")}`);
  const segment: Segment = { path, offset: 0, length, records, crc, producer: ref.producer };
  if (length === 0) {
    writeFileSync(path, "");
    return segment;
  }
  try {
    const got = await get(`${ref.url}/${MAP_OUTPUT}`, o, { start: offset, length, path });
    if (got.crc !== crc) throw tryFailed(`segment checksum mismatch (expected ${crc}, got ${got.crc})`);
  } catch (err) {
    rmSync(path, { force: true });
    throw err;
  }
  return segment;
}

interface Got {
  /** The body, when not streamed to a file. */
  body: Buffer;
  crc: number;
}

/**
 * One GET, with its path's token. With `range`, the bytes go to `range.path` (status 206 and exactly
 * `range.length` bytes required); without, the body is kept in memory, refused past `limit` bytes.
 */
function get(url: string, o: FetchOptions, range?: { start: number; length: number; path: string }, limit = 0): Promise<Got> {
  const u = new URL(url);
  return new Promise<Got>((resolve, reject) => {
    let settled = false;
    let file: WriteStream | undefined;
    let connecting: NodeJS.Timeout | undefined;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(connecting);
      req.destroy();
      file?.destroy();
      reject(err);
    };
    const headers: Record<string, string> = { authorization: `Bearer ${shuffleToken(o.key, u.pathname)}` };
    if (range) headers.range = `bytes=${range.start}-${range.start + range.length - 1}`;
    const req = request(u, { method: "GET", headers, signal: o.signal, timeout: IDLE_MS }, (res) => {
      const want = range ? 206 : 200;
      if (res.statusCode !== want) {
        res.resume();
        return fail(tryFailed(`HTTP ${res.statusCode} from ${u.host}`));
      }
      let crc = 0;
      let bytes = 0;
      const chunks: Buffer[] = [];
      file = range && createWriteStream(range.path);
      file?.on("error", fail);
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        if (range) {
          if (bytes > range.length) return fail(tryFailed("more bytes than the segment holds"));
          crc = crc32(chunk, crc);
          // Written as it comes; the socket is paused while the file catches up (bounded memory).
          if (!file!.write(chunk)) {
            res.pause();
            file!.once("drain", () => res.resume());
          }
        } else {
          if (bytes > limit) return fail(tryFailed("segment index larger than expected"));
          chunks.push(chunk);
        }
      });
      res.on("error", fail);
      res.on("aborted", () => fail(tryFailed("connection closed mid-body")));
      res.on("end", () => {
        const expected = range ? range.length : Number(res.headers["content-length"] ?? bytes);
        if (bytes !== expected) return fail(tryFailed(`short body: ${bytes} of ${expected} bytes`));
        const done = () => {
          if (settled) return;
          settled = true;
          resolve({ body: Buffer.concat(chunks), crc });
        };
        if (file) file.end(done);
        else done();
      });
    });
    req.on("socket", (socket) => {
      if (!socket.connecting) return; // a kept-alive connection
      const ms = o.connectMs ?? CONNECT_MS;
      connecting = setTimeout(() => fail(new Unreachable("MAP_OUTPUT_LOST", `no answer from ${u.host} within ${ms} ms`, true)), ms);
      socket.once("connect", () => clearTimeout(connecting));
    });
    req.on("timeout", () => fail(new Unreachable("MAP_OUTPUT_LOST", `no data from ${u.host} for ${IDLE_MS} ms`, true)));
    req.on("error", fail);
    req.end();
  });
}
