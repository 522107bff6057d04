/**
 * Serves this worker's map outputs to reducers on other hosts (`sheaf worker --local-dir`), as
 * Hadoop's ShuffleHandler does: GET `/<job>/<task>/<attempt>/map.out[.idx]`, ranged, each request
 * carrying its path's token (core/shuffle/remote.ts). The file's path is built from the checked ids,
 * and opened without following a link; nothing else under the local dir, or outside it, is served.
 */
import { closeSync, constants, createReadStream, fstatSync, openSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { localAttemptDir, parseServedPath, tokenMatches } from "../core/shuffle/remote.js";

/** What a worker served for one job: its map outputs' bytes read out (headers not counted), in how many requests, and how many of those bytes went to another host. */
export interface Served {
  bytes: number;
  requests: number;
  remoteBytes: number;
}

export class ShuffleServer {
  private readonly server: Server;
  /** By job id, until takeServed() hands it over (when the job ends). */
  private readonly served = new Map<string, Served>();

  constructor(private readonly dir: string, private readonly key: Buffer) {
    this.server = createServer((req, res) => this.handle(req, res));
    // A reducer that stalls mid-body frees its socket; a fetch has its own timeout on the other side.
    this.server.requestTimeout = 60_000;
    this.server.keepAliveTimeout = 5_000;
  }

  /** Listens on every interface; resolves with the port (a free one for 0). */
  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, () => {
        this.server.off("error", reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** What was served for `job` so far, forgotten here (undefined if nothing was). */
  takeServed(job: string): Served | undefined {
    const s = this.served.get(job);
    this.served.delete(job);
    return s;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const reply = (status: number, text: string) => {
      res.writeHead(status, { "content-type": "text/plain", "content-length": Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return reply(405, "method not allowed\n");
    const pathname = (req.url ?? "").split("?")[0]!;
    // The token first: without it, nothing (not even whether a file exists) is told.
    if (!tokenMatches(this.key, pathname, req.headers.authorization)) return reply(403, "forbidden\n");
    const served = parseServedPath(pathname);
    if (!served) return reply(404, "not found\n");
    let fd: number;
    try {
      fd = openSync(join(localAttemptDir(this.dir, served.job, served.task, served.attempt), served.file), constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    } catch {
      return reply(404, "not found\n");
    }
    const stat = fstatSync(fd);
    const size = stat.size;
    if (!stat.isFile()) {
      closeSync(fd);
      return reply(404, "not found\n");
    }
    const range = req.headers.range === undefined ? { start: 0, end: size - 1 } : parseRange(req.headers.range, size);
    if (!range) {
      closeSync(fd);
      res.writeHead(416, { "content-range": `bytes */${size}` });
      return void res.end();
    }
    const length = range.end - range.start + 1;
    res.writeHead(req.headers.range === undefined ? 200 : 206, {
      "content-type": "application/octet-stream",
      "content-length": length,
      ...(req.headers.range === undefined ? {} : { "content-range": `bytes ${range.start}-${range.end}/${size}` }),
    });
    if (req.method === "HEAD" || length === 0) {
      closeSync(fd);
      return void res.end();
    }
    const stream = createReadStream("", { fd, start: range.start, end: range.end, autoClose: true });
    let count = this.served.get(served.job);
    if (!count) this.served.set(served.job, (count = { bytes: 0, requests: 0, remoteBytes: 0 }));
    count.requests++;
    // A fetch by this host's own reducer comes from its own address; any other crossed the network.
    const remote = req.socket.remoteAddress !== req.socket.localAddress;
    stream.on("data", (chunk) => {
      count.bytes += chunk.length;
      if (remote) count.remoteBytes += chunk.length;
    });
    stream.on("error", () => res.destroy());
    res.on("close", () => stream.destroy());
    stream.pipe(res);
  }
}

/** One `bytes=a-b` (or `a-`) range within a file of `size` bytes; anything else is unsatisfiable. */
function parseRange(header: string, size: number): { start: number; end: number } | undefined {
  const m = /^bytes=(\d+)-(\d*)$/.exec(header);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start <= end && start < size ? { start, end } : undefined;
}
