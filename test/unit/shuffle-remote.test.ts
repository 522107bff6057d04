/**
 * The network shuffle's pieces (issue 19, item 4): what a request path and a result's URL may name,
 * the per-path token, the server's answers, and the fetch's retries: a reset, a 5xx, a short body
 * and corrupt bytes are tried again, and after the last try the map output is reported lost
 * (CORRUPT_INTERMEDIATE naming its producer, so the driver re-runs it); a host that never answers
 * fails each try at the connect timeout.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { checkResult } from "../../core/security/confine.js";
import type { JobConfig, TaskResult } from "../../core/tasks.js";
import { isMapOutputUrl, parseServedPath, shuffleKey, shuffleToken, tokenMatches } from "../../core/shuffle/remote.js";
import { writeSegmentIndex } from "../../core/shuffle/segment-index.js";
import { toFailure } from "../../core/task-failure.js";
import { fetchSegments } from "../../worker/shuffle-fetch.js";
import { ShuffleServer } from "../../worker/shuffle-server.js";

const root = mkdtempSync(join(tmpdir(), "sheaf-shuffle-remote-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const key = shuffleKey("a-secret-of-sixteen-chars");
const ATTEMPT = "attempt-1-0a1b2c3d";

/** A map output of three segments under `<dir>/job-1/map-00000/<attempt>/`; returns its index CRC and segment bytes. */
function writeMapOutput(dir: string): { indexCrc: number; parts: Buffer[] } {
  const folder = join(dir, "job-1", "map-00000", ATTEMPT);
  mkdirSync(folder, { recursive: true });
  const parts = [Buffer.from("first segment"), Buffer.alloc(0), Buffer.alloc(200_000, 7)];
  let offset = 0;
  const segments = parts.map((b) => {
    const s = { offset, length: b.length, records: 1, crc: crc32(b) };
    offset += b.length;
    return s;
  });
  writeFileSync(join(folder, "map.out"), Buffer.concat(parts));
  return { indexCrc: writeSegmentIndex(join(folder, "map.out"), segments), parts };
}

const listen = (server: Server | ShuffleServer): Promise<number> =>
  server instanceof ShuffleServer ? server.listen(0) : new Promise((r) => server.listen(0, () => r((server.address() as AddressInfo).port)));

describe("paths, URLs and tokens", () => {
  it("serves only a map output's two files, named by valid ids", () => {
    expect(parseServedPath(`/job-1/map-00000/${ATTEMPT}/map.out`)).toEqual({ job: "job-1", task: "map-00000", attempt: ATTEMPT, file: "map.out" });
    expect(parseServedPath(`/job-1/map-00000/${ATTEMPT}/map.out.idx`)?.file).toBe("map.out.idx");
    for (const bad of [`/../map-00000/${ATTEMPT}/map.out`, `/job-1/reduce-00000/${ATTEMPT}/map.out`, `/job-1/map-00000/${ATTEMPT}/spill-00000`,
      `/job-1/map-00000/..%2F..%2Fetc/passwd`, `/job-1/map-00000/${ATTEMPT}/map.out/x`, `job-1/map-00000/${ATTEMPT}/map.out`]) {
      expect(parseServedPath(bad), bad).toBeUndefined();
    }
  });

  it("a result's URL must name its own job and task", () => {
    expect(isMapOutputUrl(`http://host-a:4000/job-1/map-00003/${ATTEMPT}`, "job-1", "map-00003")).toBe(true);
    expect(isMapOutputUrl(`http://host-a:4000/job-2/map-00003/${ATTEMPT}`, "job-1", "map-00003")).toBe(false);
    expect(isMapOutputUrl(`http://host-a:4000/job-1/map-00004/${ATTEMPT}`, "job-1", "map-00003")).toBe(false);
    expect(isMapOutputUrl(`https://host-a/job-1/map-00003/${ATTEMPT}`, "job-1", "map-00003")).toBe(false);
    expect(isMapOutputUrl(`http://u:p@host-a/job-1/map-00003/${ATTEMPT}`, "job-1", "map-00003")).toBe(false);
    expect(isMapOutputUrl(`http://host-a/job-1/map-00003/${ATTEMPT}?x=1`, "job-1", "map-00003")).toBe(false);
    expect(isMapOutputUrl(`http://host-a/job-1/x/../map-00003/${ATTEMPT}`, "job-1", "map-00003")).toBe(false);
  });

  it("the coordinator takes a served map output only at its own job's task's URL and path", () => {
    const job = { jobId: "job-1", name: "wc", partitions: 3, scratch: "/w/jobs/job-1", output: "/out", formats: { input: { format: "lines" }, output: { format: "tsv" } } } as unknown as JobConfig;
    const result = (url: string, path: string) => ({
      kind: "map", taskId: "map-00003", attempt: 1, counters: {}, stats: { recordsIn: 1, bytesIn: 1, recordsOut: 1, bytesOut: 1, spills: 0, millis: 1 },
      mapOutput: { path, indexCrc: 1, url },
    }) as unknown as TaskResult;
    const url = `http://h:1/job-1/map-00003/${ATTEMPT}`;
    expect(() => checkResult(job, result(url, `/local/job-1/map-00003/${ATTEMPT}/map.out`))).not.toThrow();
    expect(() => checkResult(job, result(`http://h:1/job-2/map-00003/${ATTEMPT}`, `/local/job-2/map-00003/${ATTEMPT}/map.out`))).toThrow(/not this job's task's/);
    expect(() => checkResult(job, result(url, `/local/job-1/map-00003/attempt-2-00000000/map.out`))).toThrow(/not this job's task's/);
  });

  it("a token opens its own path only", () => {
    const t = shuffleToken(key, "/a");
    expect(tokenMatches(key, "/a", `Bearer ${t}`)).toBe(true);
    expect(tokenMatches(key, "/b", `Bearer ${t}`)).toBe(false);
    expect(tokenMatches(shuffleKey("another-secret-0123456"), "/a", `Bearer ${t}`)).toBe(false);
    expect(tokenMatches(key, "/a", undefined)).toBe(false);
    expect(tokenMatches(key, "/a", t)).toBe(false);
  });
});

describe("fetching a segment", () => {
  it("the server answers ranges, 403 without the token, 404 for anything else", async () => {
    const dir = join(root, "served");
    writeMapOutput(dir);
    const server = new ShuffleServer(dir, key);
    const port = await listen(server);
    try {
      const path = `/job-1/map-00000/${ATTEMPT}/map.out`;
      const get = async (p: string, headers: Record<string, string> = {}) => {
        const r = await fetch(`http://127.0.0.1:${port}${p}`, { headers });
        return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
      };
      expect((await get(path)).status).toBe(403);
      const ranged = await get(path, { authorization: `Bearer ${shuffleToken(key, path)}`, range: "bytes=6-12" });
      expect(ranged).toEqual({ status: 206, body: Buffer.from("segment") });
      expect((await get(path, { authorization: `Bearer ${shuffleToken(key, path)}`, range: "bytes=999999-" })).status).toBe(416);
      const other = `/job-1/map-00000/${ATTEMPT}/spill-00000`;
      expect((await get(other, { authorization: `Bearer ${shuffleToken(key, other)}` })).status).toBe(404);
      // Counted per job: the one request that was answered with bytes (from this host itself), then forgotten.
      expect(server.takeServed("job-1")).toEqual({ bytes: 7, requests: 1, remoteBytes: 0 });
      expect(server.takeServed("job-1")).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it("retries a reset, a 500, a short body and corrupt bytes, then gets the segment", async () => {
    const dir = join(root, "flaky");
    const { indexCrc, parts } = writeMapOutput(dir);
    const real = new ShuffleServer(dir, key);
    const realPort = await listen(real);
    // In front of the real server: the first requests for the segment fail, each its own way.
    const faults = ["reset", "500", "short", "corrupt"];
    let segmentTries = 0;
    const proxy = createServer((req, res) => {
      const upstream = request({ port: realPort, path: req.url, headers: req.headers }, (up) => {
        const fault = req.url!.endsWith("map.out") ? faults[segmentTries++] : undefined;
        if (fault === "reset") return req.socket.destroy();
        if (fault === "500") return res.writeHead(500).end();
        const chunks: Buffer[] = [];
        up.on("data", (c: Buffer) => chunks.push(c));
        up.on("end", () => {
          const body = Buffer.concat(chunks);
          res.writeHead(up.statusCode!, up.headers);
          if (fault === "short") return void res.write(body.subarray(0, 10), () => res.socket?.destroy());
          if (fault === "corrupt") body[body.length >> 1]! ^= 1;
          res.end(body);
        });
      });
      upstream.end();
    });
    const port = await listen(proxy);
    try {
      const ref = { producer: "map-00000" as never, path: "/elsewhere/map.out", indexCrc, url: `http://127.0.0.1:${port}/job-1/map-00000/${ATTEMPT}` };
      const got = await fetchSegments([ref], { key, dir: join(root, "fetched"), partition: 2, partitions: 3, backoffMs: [1, 1, 1, 1] });
      expect(segmentTries).toBe(5);
      expect(readFileSync(got["map-00000"]!.path)).toEqual(parts[2]);
      // An empty segment needs no request.
      const empty = await fetchSegments([ref], { key, dir: join(root, "fetched"), partition: 1, partitions: 3, backoffMs: [] });
      expect(empty["map-00000"]!.length).toBe(0);
    } finally {
      proxy.close();
      await real.close();
    }
  });

  it("after the last try, the map output is reported lost, naming the map task to re-run", async () => {
    const dead = createServer();
    const port = await listen(dead);
    await new Promise((r) => dead.close(r)); // nothing listens there now: refused
    const ref = { producer: "map-00007" as never, path: "/w/job-1/map-00007/attempt-1-00000000/map.out", indexCrc: 1, url: `http://127.0.0.1:${port}/job-1/map-00007/attempt-1-00000000` };
    const err = await fetchSegments([ref], { key, dir: join(root, "lost"), partition: 0, partitions: 3, backoffMs: [1, 1, 1] }).catch((e: unknown) => e);
    const failure = toFailure(err, { taskId: "reduce-00000" as never, attempt: 1 });
    expect(failure).toMatchObject({ code: "CORRUPT_INTERMEDIATE", retryable: true, producer: "map-00007", lost: ref.path });
    expect(failure.message).toMatch(/cannot be fetched .*\(4 tries\)/);
  });

  it("a host that never answers: each try ends at the connect timeout, not the idle timeout", async () => {
    // A listener whose process never accepts (its event loop blocked) and whose accept queue is
    // full: Linux drops further SYNs unanswered, as a host cut off does.
    const blocked = spawn(process.execPath, ["-e", `const s = require("node:net").createServer().listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
      console.log(s.address().port); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); })`], { stdio: ["ignore", "pipe", "inherit"] });
    const filling: Socket[] = [];
    try {
      const port = Number(String((await once(blocked.stdout!, "data"))[0]).trim());
      for (let answered = true; answered; ) {
        const socket = connect(port, "127.0.0.1");
        filling.push(socket);
        answered = await Promise.race([once(socket, "connect").then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 500))]);
      }
      const ref = { producer: "map-00002" as never, path: "/w/job-1/map-00002/attempt-1-00000000/map.out", indexCrc: 1, url: `http://127.0.0.1:${port}/job-1/map-00002/attempt-1-00000000` };
      const started = Date.now();
      const err = await fetchSegments([ref], { key, dir: join(root, "silent"), partition: 0, partitions: 3, backoffMs: [1], connectMs: 300 }).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(toFailure(err, { taskId: "reduce-00000" as never, attempt: 1 })).toMatchObject({ code: "CORRUPT_INTERMEDIATE", producer: "map-00002" });
      expect((err as Error).message).toMatch(/\(2 tries\): no answer from 127\.0\.0\.1:\d+ within 300 ms/);
    } finally {
      for (const socket of filling) socket.destroy();
      blocked.kill("SIGKILL");
    }
  });
});
