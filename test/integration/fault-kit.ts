/**
 * Shared pieces of the fault-injection tests (faults-*.test.ts): corpora, the word count oracle,
 * the fixture's run markers, temp-file checks, an asynchronous `sheaf run`, and cluster helpers
 * (submit, follow a job through Redis, find which worker runs a task, report recovery times).
 * Like helpers.ts, nothing here imports engine code.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, expect } from "vitest";
import { Cluster, type Proc } from "./cluster-harness.js";
import { CLI, FIXTURE_JOBS, REPO, allLines, makeRng, parseTsv, partFiles, sameOutput, type Scratch } from "./helpers.js";

export const FAULTY = join(FIXTURE_JOBS, "faulty.ts");
export const SKIP_BAD = join(FIXTURE_JOBS, "skip-bad.ts");

// ---------------------------------------------------------------------------------------------
// Corpora and the oracle

/** `files` text files of about `bytesEach` bytes: lines of 1–9 words from a vocabulary of `vocab` words. */
export function writeCorpus(s: Scratch, dir: string, files: number, bytesEach: number, vocab: number, seed = 1): string[] {
  const rng = makeRng(seed);
  const words = Array.from({ length: vocab }, (_, i) => `w${i.toString(36)}${i % 3 === 0 ? "X" : ""}`);
  const paths: string[] = [];
  for (let f = 0; f < files; f++) {
    const lines: string[] = [];
    let size = 0;
    for (let i = 0; size < bytesEach; i++) {
      // Every word at least once per file, then random ones.
      const n = 1 + Math.floor(rng() * 9);
      const line = Array.from({ length: n }, (_, k) => (i * 9 + k < vocab ? words[i * 9 + k]! : words[Math.floor(rng() * vocab)]!)).join(" ");
      lines.push(line);
      size += line.length + 1;
    }
    paths.push(s.write(`${dir}/part-${String(f).padStart(2, "0")}.txt`, lines.join("\n") + "\n"));
  }
  return paths;
}

/** Word counts as the faulty and skip-bad fixtures compute them, by a plain loop. */
export function wordcountOracle(files: readonly string[], skip: (line: string) => boolean = () => false): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { text } of allLines(files)) {
    if (skip(text)) continue;
    for (const w of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  return counts;
}

/** The output folder holds exactly the oracle's counts, each part file in UTF-8 key order, and _SUCCESS. */
export function expectOracle(out: string, oracle: Map<string, number>): void {
  expect(existsSync(join(out, "_SUCCESS")), `${out}/_SUCCESS`).toBe(true);
  const got = new Map<string, number>();
  for (const part of partFiles(out)) {
    const rows = parseTsv(part.bytes.toString("utf8"));
    const keys = rows.map((r) => r[0]!);
    const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(keys, `${part.name} is in key order`).toEqual(sorted);
    for (const [w, n] of rows) {
      expect(got.has(w!), `${w} in two part files`).toBe(false);
      got.set(w!, Number(n));
    }
  }
  expect(got.size).toBe(oracle.size);
  expect(got).toEqual(oracle);
}

/** A job leaves no temp files behind: no `<output>/_temporary` and no `<workdir>/jobs/<jobId>` (any job's, without an id). */
export function expectNoTempFiles(out: string, workdir: string, jobId?: string): void {
  expect(existsSync(join(out, "_temporary")), `${out}/_temporary left behind`).toBe(false);
  const jobs = join(workdir, "jobs");
  if (jobId) expect(existsSync(join(jobs, jobId)), `${jobs}/${jobId} left behind`).toBe(false);
  else expect(existsSync(jobs) ? readdirSync(jobs) : [], `${jobs} not empty`).toEqual([]);
}

// ---------------------------------------------------------------------------------------------
// The faulty fixture's markers

/** A new empty folder under the scratch root (for `--param markDir=`). */
export function freshDir(s: Scratch, name: string): string {
  const d = s.path(name);
  mkdirSync(d, { recursive: true });
  return d;
}

export interface Marker {
  task: string;
  run: string;
  what: "start" | "first" | "held" | "done";
  data: { pid?: number; attempt: number; t?: number; offset?: number };
}

export function markers(dir: string, task?: string, what?: Marker["what"]): Marker[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => !n.startsWith("once~"))
    .map((n) => {
      const [t, run, w] = n.split("~") as [string, string, Marker["what"]];
      let data: Marker["data"];
      try {
        data = JSON.parse(readFileSync(join(dir, n), "utf8"));
      } catch {
        data = { attempt: 0 }; // being written
      }
      return { task: t, run, what: w, data };
    })
    .filter((m) => (!task || m.task === task) && (!what || m.what === what));
}

// ---------------------------------------------------------------------------------------------
// Running the CLI without blocking the test (so it can inject faults meanwhile)

export interface AsyncResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runAsync(args: string[], env: Record<string, string> = {}): { done: Promise<AsyncResult>; pid: number } {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, env: { ...process.env, FORCE_COLOR: "0", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const done = new Promise<AsyncResult>((resolve) => child.on("close", (status, signal) => resolve({ status, signal, stdout, stderr, ms: Date.now() - started })));
  return { done, pid: child.pid! };
}

/** The numbers of the summary's "resumed from checkpoints" line: map input bytes (as printed, approximate) and reduce keys. */
export function resumedFromSummary(stderr: string): { bytes: number; keys: number } | undefined {
  const m = /resumed from checkpoints: ([\d.]+) (B|KB|MB|GB) of map input and ([\d,]+) reduce keys not redone/.exec(stderr);
  if (!m) return undefined;
  const unit = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m[2] as "B"];
  return { bytes: Number(m[1]) * unit, keys: Number(m[3]!.replace(/,/g, "")) };
}

export async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 60_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Cluster jobs

export interface JobRecord {
  state: string;
  error?: string;
  startedAt?: number;
  finishedAt?: number;
  progress?: {
    mapsDone: number;
    reducesDone: number;
    stage: string;
    millis?: number;
    counters?: Record<string, number>;
    resumedBytes?: number;
    resumedKeys?: number;
    failedAttempts?: number;
    lastFailure?: string;
  };
}

/** Submits a job (without --wait) and returns its id. */
export async function submitJob(cluster: Cluster, args: string[]): Promise<string> {
  const r = await cluster.run(["submit", ...args]);
  if (r.code !== 0) throw new Error(`submit failed (${r.code}): ${r.output}`);
  return r.stdout.trim().split("\n")[0]!;
}

/** One client per cluster for the tests' own reads (Cluster.client() opens a new one per call). */
const clients = new WeakMap<Cluster, ReturnType<Cluster["client"]>>();
export function redisOf(cluster: Cluster): ReturnType<Cluster["client"]> {
  let c = clients.get(cluster);
  if (!c) clients.set(cluster, (c = cluster.client()));
  return c;
}

export async function jobRecord(cluster: Cluster, id: string, prefix = "sheaf"): Promise<JobRecord> {
  const h = await redisOf(cluster).hgetall(`${prefix}:job:${id}`);
  return {
    state: h.state ?? "missing",
    error: h.error,
    startedAt: h.startedAt ? Number(h.startedAt) : undefined,
    finishedAt: h.finishedAt ? Number(h.finishedAt) : undefined,
    progress: h.progress ? JSON.parse(h.progress) : undefined,
  };
}

/** Polls the job's record until it is finished (or the timeout), and returns it. */
/** What a job that recovered from a fault must match: the undisturbed run, the oracle, and its counts. */
export interface Recovery {
  /** The undisturbed run's output folder ("" while measuring that run itself). */
  baseline: string;
  oracle: Map<string, number>;
  lineCount: number;
  maps: number;
  reduces: number;
}

/** Waits for the job, then checks it against `want`, and that it left no temp files. */
export async function expectRecovered(c: Cluster, id: string, out: string, workdir: string, want: Recovery, timeoutMs = 60_000): Promise<JobRecord> {
  const record = await waitJob(c, id, timeoutMs);
  expect(record.state, record.error).toBe("succeeded");
  if (want.baseline) sameOutput(out, want.baseline);
  expectOracle(out, want.oracle);
  expect(record.progress!.counters).toMatchObject({ records: want.lineCount, keys: want.oracle.size });
  expect(record.progress).toMatchObject({ mapsDone: want.maps, reducesDone: want.reduces, recordsIn: want.lineCount });
  expectNoTempFiles(out, workdir, id);
  return record;
}

export async function waitJob(cluster: Cluster, id: string, timeoutMs = 90_000): Promise<JobRecord> {
  let record: JobRecord = { state: "missing" };
  await until(`job ${id} to finish`, async () => {
    record = await jobRecord(cluster, id);
    return ["succeeded", "failed", "cancelled"].includes(record.state);
  }, timeoutMs, 100);
  return record;
}

/** The worker process (of `workers`) that runs `task` now, by the fixture's start markers. */
export function workerRunning(markDir: string, task: string, workers: readonly Proc[]): Proc {
  const starts = markers(markDir, task, "start").sort((a, b) => (b.data.t ?? 0) - (a.data.t ?? 0));
  const pid = starts[0]?.data.pid;
  const w = workers.find((p) => p.child.pid === pid && p.child.exitCode === null && p.child.signalCode === null);
  if (!w) throw new Error(`no live worker runs ${task} (markers: ${JSON.stringify(starts)})`);
  return w;
}

/** A task id (`map-00003`) with a checkpoint on disk under `dir` (a job's scratch folder or an output's _temporary). */
export function checkpointed(dir: string, kind: "map" | "reduce"): string | undefined {
  if (!existsSync(dir)) return undefined;
  // Each attempt saves its own `checkpoint-<attempt>.json`.
  const hasManifest = (folder: string) => existsSync(folder) && readdirSync(folder).some((n) => /^checkpoint-.+\.json$/.test(n));
  for (const entry of readdirSync(dir)) {
    if (kind === "map" && entry.startsWith("map-") && hasManifest(join(dir, entry, "checkpoint"))) return entry;
    if (kind === "reduce" && entry.endsWith("-checkpoint") && hasManifest(join(dir, entry))) return entry.replace(/-checkpoint$/, "");
  }
  return undefined;
}

/** One line for the collected figures: `FAULT <case> ...`. */
export function reportFault(name: string, figures: { recoveryMs: number; jobMs?: number; baselineMs?: number; note?: string }): void {
  const parts = [`FAULT ${name}:`, `recovery ${figures.recoveryMs} ms (fault to job completion)`];
  if (figures.jobMs !== undefined) parts.push(`job ${figures.jobMs} ms`);
  if (figures.baselineMs !== undefined) parts.push(`undisturbed ${figures.baselineMs} ms`);
  if (figures.baselineMs !== undefined && figures.jobMs !== undefined) parts.push(`overhead ${figures.jobMs - figures.baselineMs} ms`);
  if (figures.note) parts.push(figures.note);
  console.log(parts.join("  "));
}

/** A private cluster: Redis, a coordinator (and `standbys`), and `workers` workers of `threads` threads. */
export async function startCluster(
  workdir: string,
  o: { workers: number; threads?: number; standbys?: number; redisArgs?: string[]; coordinatorArgs?: string[] },
): Promise<{ cluster: Cluster; coordinator: Proc; standbys: Proc[]; workers: Proc[] }> {
  const cluster = new Cluster(workdir, o.redisArgs);
  await cluster.startRedis();
  const coordinator = await cluster.coordinator(o.coordinatorArgs);
  const standbys = await Promise.all(Array.from({ length: o.standbys ?? 0 }, () => cluster.coordinator([], true)));
  const workers = await Promise.all(Array.from({ length: o.workers }, () => cluster.worker(o.threads ?? 1)));
  return { cluster, coordinator, standbys, workers };
}

/** `--param k=v` pairs. */
export const params = (p: Record<string, string | number>): string[] => Object.entries(p).flatMap(([k, v]) => ["--param", `${k}=${v}`]);

/**
 * Stops a test's cluster: coordinators by SIGKILL first (SIGTERM's orderly stop is tested in
 * faults-coordinator.test.ts; here it would only slow teardown, and the harness waits 10 s for a
 * process that does not exit), then the rest, and checks nothing leaked.
 */
export async function stopCluster(c: Cluster): Promise<void> {
  for (const p of c.procs) {
    if (p.child.spawnargs.includes("coordinator") && p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill("SIGCONT"); // in case a test left it stopped
      p.child.kill("SIGKILL");
    }
  }
  await c.stop();
  c.assertNoLeaks();
}

/** Registers the hooks every fault file needs: stop its clusters after each test, then remove its scratch folder. */
export function stopClustersAfterEach(clusters: Cluster[], s: Scratch): void {
  afterEach(async () => {
    for (const c of clusters.splice(0)) await stopCluster(c);
  });
  afterAll(async () => {
    for (const c of clusters.splice(0)) await stopCluster(c);
    s.cleanup();
  });
}
