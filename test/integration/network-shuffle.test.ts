/**
 * Issue 19, item 4: map outputs on the workers' local disks (`sheaf worker --local-dir`), fetched by
 * reducers over HTTP with a token derived from SHEAF_SECRET. Two workers on this machine, each with
 * its own local dir: word count (6 maps, 3 reduces) equals the oracle and `sheaf run`, with no map
 * output in the shared workdir; the server refuses requests without the token; a worker killed
 * after its maps committed (its local dir gone) costs a re-run of its maps, not the job; corrupt
 * bytes served are retried, then reported lost, and the map re-runs. Identical output every time.
 */
import { createHmac } from "node:crypto";
import { closeSync, existsSync, openSync, readdirSync, readSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cluster, type Proc } from "./cluster-harness.js";
import { FAULTY, expectOracle, freshDir, jobRecord, markers, params, stopCluster, until, waitJob, wordcountOracle, workerRunning, writeCorpus } from "./fault-kit.js";
import { Scratch, runOk, sameOutput } from "./helpers.js";

const SECRET = "shuffle-secret-0123456789abcdef";
const env = { SHEAF_SECRET: SECRET };
const s = new Scratch("network-shuffle");
const clusters: Cluster[] = [];
let inputs: string[] = [];
let oracle: Map<string, number>;
let baseline = "";

/** The last map sleeps on its first run: the other five commit and wait, to be looked at or broken. */
const SLOW_MAP = { sleepTask: "map-00005", sleepMs: 4000 };

function jobArgs(out: string, marks: string, extra: Record<string, string | number> = {}): string[] {
  return [FAULTY, "--input", ...inputs, "--output", out, "--partitions", "3", "--no-speculative", "-q", ...params({ markDir: marks, ...extra })];
}

interface Host {
  proc: Proc;
  dir: string;
  /** `http://127.0.0.1:port`, from its log. */
  base: string;
}

async function start(name: string): Promise<{ c: Cluster; hosts: Host[]; workdir: string }> {
  const workdir = s.path(`wd-${name}`);
  const c = new Cluster(workdir);
  clusters.push(c);
  await c.startRedis();
  await c.coordinator([], false, env);
  const hosts = await Promise.all([0, 1].map(async (i) => {
    const dir = s.path(`${name}-local-${i}`);
    const proc = await c.worker(1, ["--local-dir", dir, "--advertise", "127.0.0.1"], env);
    const base = /serving map outputs from .* at (http:\/\/\S+)/.exec(proc.output())?.[1];
    expect(base, proc.output()).toBeDefined();
    return { proc, dir, base: base! };
  }));
  return { c, hosts, workdir };
}

/** A cluster running the job with SLOW_MAP, once five of its maps committed (the sixth sleeps). */
async function fiveMapsDone(name: string): Promise<{ c: Cluster; hosts: Host[]; workdir: string; marks: string; out: string; id: string }> {
  const started = await start(name);
  const marks = freshDir(s, `marks-${name}`);
  const out = s.fresh(name);
  const id = await submit(started.c, jobArgs(out, marks, SLOW_MAP));
  await until("5 map tasks committed", async () => ((await jobRecord(started.c, id)).progress?.mapsDone ?? 0) >= 5, 30_000);
  return { ...started, marks, out, id };
}

async function submit(c: Cluster, args: string[]): Promise<string> {
  const r = await c.run(["submit", ...args], env);
  if (r.code !== 0) throw new Error(`submit failed (${r.code}): ${r.output}`);
  return r.stdout.trim().split("\n")[0]!;
}

/** Map output files of a job under a local dir: `<dir>/<job>/<task>/<attempt>/map.out`. */
function localOutputs(dir: string, job: string): string[] {
  const root = join(dir, job);
  if (!existsSync(root)) return [];
  return readdirSync(root).filter((t) => t.startsWith("map-")).flatMap((t) =>
    readdirSync(join(root, t)).map((a) => join(root, t, a, "map.out")).filter((p) => existsSync(p)));
}

/** Every file under a folder, recursively. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

const token = (path: string) => createHmac("sha256", createHmac("sha256", SECRET).update("sheaf shuffle v1").digest()).update(path).digest("hex");

async function expectSucceeded(c: Cluster, id: string, out: string): Promise<void> {
  const record = await waitJob(c, id, 50_000);
  expect(record.state, record.error).toBe("succeeded");
  expectOracle(out, oracle);
  sameOutput(out, baseline);
}

beforeAll(() => {
  inputs = writeCorpus(s, "in", 6, 30_000, 400, 19);
  oracle = wordcountOracle(inputs);
  baseline = s.fresh("embedded");
  runOk({ job: FAULTY, inputs, output: baseline, workdir: s.path("wd-embedded"), partitions: 3, threads: 2 });
}, 30_000);

afterEach(async () => {
  for (const c of clusters.splice(0)) await stopCluster(c);
});
afterAll(() => s.cleanup());

describe("sheaf worker --local-dir", () => {
  it("keeps map outputs on the workers' disks, serves them only with the token, and the output equals sheaf run's", async () => {
    const { c, hosts, workdir, out, id } = await fiveMapsDone("plain");

    // On the local dirs, both of them, and nowhere in the shared workdir.
    const local = hosts.map((h) => localOutputs(h.dir, id));
    expect(local.flat().length).toBeGreaterThanOrEqual(5);
    expect(local.every((l) => l.length > 0), `outputs on both workers: ${JSON.stringify(local)}`).toBe(true);
    expect(filesUnder(join(workdir, "jobs", id)).filter((f) => /map\.out|spill-/.test(f))).toEqual([]);

    // The server: the token for the path, or nothing.
    const file = local.flat()[0]!;
    const host = hosts.find((h) => file.startsWith(h.dir))!;
    const path = file.slice(host.dir.length); // /<job>/<task>/<attempt>/map.out
    const url = `${host.base}${path}`;
    expect((await fetch(url)).status).toBe(403);
    expect((await fetch(url, { headers: { authorization: `Bearer ${"0".repeat(64)}` } })).status).toBe(403);
    expect((await fetch(url, { headers: { authorization: `Bearer ${token(`${path}.idx`)}` } })).status).toBe(403); // another path's token
    const ok = await fetch(url, { headers: { authorization: `Bearer ${token(path)}`, range: "bytes=0-9" } });
    expect(ok.status).toBe(206);
    expect((await ok.arrayBuffer()).byteLength).toBe(10);
    const missing = path.replace(/attempt-\d+-[0-9a-f]{8}/, "attempt-9-00000000");
    expect((await fetch(`${host.base}${missing}`, { headers: { authorization: `Bearer ${token(missing)}` } })).status).toBe(404);
    const traversal = `/${id}/map-00000/..%2F..%2F..%2Fetc/passwd`;
    expect((await fetch(`${host.base}${traversal}`, { headers: { authorization: `Bearer ${token(traversal)}` } })).status).toBe(404);

    await expectSucceeded(c, id, out);
    // The job's end removes its map outputs from every local dir.
    await until("local map outputs removed", () => hosts.every((h) => !existsSync(join(h.dir, id))), 10_000);
  }, 60_000);

  it("refuses to start without SHEAF_SECRET", async () => {
    const c = new Cluster(s.path("wd-refuse"));
    clusters.push(c);
    await c.startRedis();
    const p = c.spawn(["worker", "--threads", "1", "--local-dir", s.path("refuse-local")], { SHEAF_SECRET: "" });
    expect(await p.exited).not.toBe(0);
    expect(p.output().trim().split("\n")).toHaveLength(1);
    expect(p.output()).toMatch(/--local-dir needs SHEAF_SECRET/);
  }, 20_000);
});

describe("a host's map outputs lost", () => {
  it("a worker killed after its maps committed, its local dir gone: its maps re-run, the output is identical", async () => {
    const { c, hosts, marks, out, id } = await fiveMapsDone("killed");
    // Kill the worker that is not running the sleeping map: its committed outputs are all lost.
    const busy = workerRunning(marks, "map-00005", hosts.map((h) => h.proc));
    const victim = hosts.find((h) => h.proc !== busy)!;
    const lost = localOutputs(victim.dir, id).map((p) => p.split("/").at(-3)!);
    expect(lost.length).toBeGreaterThan(0);
    victim.proc.child.kill("SIGKILL");
    await victim.proc.exited;
    rmSync(victim.dir, { recursive: true, force: true });

    await expectSucceeded(c, id, out);
    const reran = lost.filter((t) => markers(marks, t, "start").length >= 2);
    expect(reran.length, `re-run among ${lost.join(", ")}`).toBeGreaterThanOrEqual(1);
    expect((await jobRecord(c, id)).progress!.lastFailure).toMatch(/cannot be fetched|re-running/);
  }, 60_000);

  it("corrupt bytes served are retried, then reported lost: the map re-runs, the output is identical", async () => {
    const { c, hosts, marks, out, id } = await fiveMapsDone("corrupt");
    const file = hosts.flatMap((h) => localOutputs(h.dir, id)).find((p) => p.includes("/map-00000/"));
    expect(file, "map-00000's output on a local dir").toBeDefined();
    flipByte(file!, statSync(file!).size >> 1);

    await expectSucceeded(c, id, out);
    expect(markers(marks, "map-00000", "start").length).toBeGreaterThanOrEqual(2);
    const record = await jobRecord(c, id);
    expect(record.progress!.failedAttempts).toBeGreaterThanOrEqual(1);
    const logs = hosts.map((h) => h.proc.output()).join("\n") + record.progress!.lastFailure;
    expect(logs).toMatch(/checksum mismatch|re-running map-00000/);
  }, 60_000);
});

function flipByte(path: string, at: number): void {
  const fd = openSync(path, "r+");
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0]! ^= 0xff;
    writeSync(fd, b, 0, 1, at);
  } finally {
    closeSync(fd);
  }
}
