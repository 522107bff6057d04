/**
 * The cluster transport: real redis-server, coordinator and worker processes. Every job's output is
 * checked against a plain-loop oracle and, where it applies, byte for byte against `sheaf run`.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "./cluster-harness.js";
import { EXAMPLE_JOBS, FIXTURE_JOBS, leftovers, makeRng, outputText, parseTsv, runOk, sameOutput, Scratch, textLines, wordCounts } from "./helpers.js";

const WORDCOUNT = join(EXAMPLE_JOBS, "wordcount.ts");
const SLOW = join(FIXTURE_JOBS, "slow.ts");

const scratch = new Scratch("cluster");
const cluster = new Cluster(scratch.path("workdir"));
let corpus: string[] = [];
let corpusText = "";
/** Every line of the corpus, in file order: the oracle of a map-only job that copies its input. */
const corpusLines: string[] = [];

function wordcountOracle(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of text.split(/\r?\n/)) {
    for (const w of line.toLowerCase().match(/[a-z0-9]+/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  return counts;
}

function countsOf(dir: string): Map<string, number> {
  return new Map(parseTsv(outputText(dir)).map(([w, n]) => [w!, Number(n)]));
}

function jobId(stdout: string): string {
  return stdout.trim().split("\n")[0]!;
}

async function jobState(id: string): Promise<string | null> {
  return cluster.client().hget(`sheaf:job:${id}`, "state");
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  const rng = makeRng(7);
  const words = ["alpha", "beta", "gamma", "delta", "Epsilon", "zeta", "eta", "theta", "iota", "kappa"];
  for (let f = 0; f < 3; f++) {
    const lines: string[] = [];
    for (let i = 0; i < 400; i++) lines.push(Array.from({ length: 1 + Math.floor(rng() * 9) }, () => words[Math.floor(rng() * words.length)]).join(" "));
    const text = lines.join(f === 1 ? "\r\n" : "\n") + (f === 2 ? "" : "\n");
    corpus.push(scratch.write(`corpus/part${f}.txt`, text));
    corpusLines.push(...lines);
    corpusText += text + "\n";
  }
  await cluster.startRedis();
});

afterAll(async () => {
  await cluster.stop();
  cluster.assertNoLeaks();
  scratch.cleanup();
});

describe("a job submitted with no coordinator running", () => {
  it("is queued, and runs when a coordinator starts", async () => {
    const out = scratch.fresh("queued");
    const submitted = await cluster.run(["submit", WORDCOUNT, "--input", ...corpus, "--output", out, "--split-size", "2k"]);
    expect(submitted.code, submitted.output).toBe(0);
    const id = jobId(submitted.stdout);
    expect(await jobState(id)).toBe("queued");
    const status = await cluster.run(["status"]);
    expect(status.stdout).toMatch(new RegExp(`${id}\\s+wordcount\\s+queued`));

    await cluster.coordinator();
    await cluster.worker(1);
    await cluster.worker(1);
    await until("the queued job finishes", async () => (await jobState(id)) === "succeeded");
    expect(countsOf(out)).toEqual(wordcountOracle(corpusText));
    expect(existsSync(join(out, "_SUCCESS"))).toBe(true);
  });
});

describe("with a coordinator and two workers", () => {
  it("word count matches the oracle and is byte-identical to sheaf run", async () => {
    const out = scratch.fresh("wc");
    const r = await cluster.run(["submit", WORDCOUNT, "--input", ...corpus, "--output", out, "--split-size", "1k", "--partitions", "3", "--wait"]);
    expect(r.code, r.output).toBe(0);
    expect(countsOf(out)).toEqual(wordcountOracle(corpusText));
    const local = scratch.fresh("wc-local");
    runOk({ job: WORDCOUNT, inputs: corpus, output: local, workdir: scratch.path("local-workdir"), splitSize: "1k", partitions: 3, threads: 2 });
    sameOutput(out, local);
  });

  it("a job whose map tasks mostly emit nothing matches the oracle and sheaf run (empty results through Redis)", async () => {
    const lines = Array.from({ length: 400 }, (_, i) => `${i % 29 === 5 ? "#" : "-"} w${i % 7} w${(i * 3) % 11}`);
    const input = scratch.write("sparse.txt", lines.join("\n") + "\n");
    const out = scratch.fresh("sparse");
    const r = await cluster.run(["submit", join(FIXTURE_JOBS, "sparse.ts"), "--input", input, "--output", out, "--split-size", "64", "--partitions", "2", "--wait", "-q"]);
    expect(r.code, r.output).toBe(0);
    expect(countsOf(out)).toEqual(wordCounts(lines.filter((l) => l.startsWith("#")).join("\n")));
    const local = scratch.fresh("sparse-local");
    runOk({ job: join(FIXTURE_JOBS, "sparse.ts"), inputs: [input], output: local, workdir: scratch.path("local-workdir"), splitSize: 64, partitions: 2, threads: 2 });
    sameOutput(out, local);
  });

  it("runs two jobs submitted at once", async () => {
    const [a, b] = [scratch.fresh("twin"), scratch.fresh("twin")];
    const [ra, rb] = await Promise.all([
      cluster.run(["submit", WORDCOUNT, "--input", ...corpus, "--output", a, "--split-size", "3k", "--wait", "-q"]),
      cluster.run(["submit", SLOW, "--input", ...corpus, "--output", b, "--split-size", "3k", "--wait", "-q"]),
    ]);
    expect(ra.code, ra.output).toBe(0);
    expect(rb.code, rb.output).toBe(0);
    expect(countsOf(a)).toEqual(wordcountOracle(corpusText));
    expect(textLines(outputText(b))).toEqual(corpusLines);
  });

  it("shows a finished job in status, in the table and in detail", async () => {
    const out = scratch.fresh("status");
    const r = await cluster.run(["submit", WORDCOUNT, "--input", ...corpus, "--output", out, "--wait", "-q"]);
    const id = jobId(r.stdout);
    const table = await cluster.run(["status"]);
    const maps = corpus.length; // one split per file at the default split size
    expect(table.stdout).toMatch(new RegExp(`${id}\\s+wordcount\\s+succeeded\\s+map ${maps}/${maps}\\s+reduce \\d+/\\d+`));
    const detail = await cluster.run(["status", id]);
    expect(detail.stdout).toContain(`state     succeeded`);
    expect(detail.stdout).toMatch(new RegExp(`map\\s+${maps}/${maps} done`));
    expect(detail.stdout).toMatch(new RegExp(`read\\s+${corpusLines.length.toLocaleString("en-US")} records`));
    expect(detail.stdout).toContain(out);
  });
});

describe("cancel", () => {
  it("stops a running job: queued tasks go, running ones stop, no _SUCCESS and no part files", async () => {
    const out = scratch.fresh("cancel");
    const waiting = cluster.spawn(["submit", SLOW, "--input", ...corpus, "--output", out, "--split-size", "1k", "--param", "taskMs=500", "--wait"]);
    let id = "";
    waiting.child.stdout!.on("data", (d) => (id ||= String(d).trim().split("\n")[0]!));
    await until("some tasks done", async () => {
      if (!id) return false;
      const p = await cluster.client().hget(`sheaf:job:${id}`, "progress");
      return p !== null && JSON.parse(p).mapsDone >= 1;
    });
    const cancelled = await cluster.run(["cancel", id]);
    expect(cancelled.code, cancelled.output).toBe(0);
    expect(cancelled.stdout.trim()).toBe(`${id} cancelled`);
    expect(await waiting.exited).not.toBe(0);
    expect(waiting.output()).toContain("cancelled");
    expect(leftovers(out)).toEqual([]);
    expect(await jobState(id)).toBe("cancelled");
    const queued = await cluster.client().keys(`sheaf:tasks:${id}.*`);
    expect(queued).toEqual([]);
  });

  it("persisted in the job's record, cancels a running job even when the pub/sub message was missed", async () => {
    const out = scratch.fresh("cancel-flag");
    const id = jobId((await cluster.run(["submit", SLOW, "--input", ...corpus, "--output", out, "--split-size", "1k", "--param", "taskMs=500"])).stdout);
    const redis = cluster.client(); // one connection for the polling (the harness checks none is left open)
    const state = () => redis.hget(`sheaf:job:${id}`, "state");
    await until("the job to run", async () => (await state()) === "running");
    // What `sheaf cancel` writes, without its message: as if the coordinator was reconnecting when it was published.
    await redis.hset(`sheaf:job:${id}`, "cancel", "1");
    await until("the job to be cancelled", async () => (await state()) === "cancelled", 15_000);
    expect(leftovers(out)).toEqual([]);
  });

  it("of a queued job, with no coordinator for its prefix, takes effect at once", async () => {
    const submitted = await cluster.run(["submit", WORDCOUNT, "--prefix", "idle", "--input", ...corpus, "--output", scratch.fresh("idle")]);
    const id = jobId(submitted.stdout);
    const r = await cluster.run(["cancel", id, "--prefix", "idle"]);
    expect(r.code, r.output).toBe(0);
    expect(await cluster.client().hget(`idle:job:${id}`, "state")).toBe("cancelled");
  });
});

describe("prefixes", () => {
  it("keep two clusters in one Redis apart, and a worker that joins mid-job takes tasks", async () => {
    const out = scratch.fresh("joined");
    const submitted = await cluster.run(["submit", SLOW, "--prefix", "other", "--input", ...corpus, "--output", out, "--split-size", "1k", "--param", "taskMs=300"]);
    const id = jobId(submitted.stdout);
    // The default prefix's coordinator and workers do not see it.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await cluster.client().hget(`other:job:${id}`, "state")).toBe("queued");
    expect((await cluster.run(["status"])).stdout).not.toContain(id);
    expect((await cluster.run(["status", "--prefix", "other"])).stdout).toContain(id);

    await cluster.coordinator(["--prefix", "other"]);
    await cluster.worker(1, ["--prefix", "other"]);
    await until("the first tasks done", async () => {
      const p = await cluster.client().hget(`other:job:${id}`, "progress");
      return p !== null && JSON.parse(p).mapsDone >= 2;
    });
    const late = await cluster.worker(1, ["--prefix", "other"]);
    await until("the job finishes", async () => (await cluster.client().hget(`other:job:${id}`, "state")) === "succeeded");
    const report = JSON.parse((await cluster.client().hget(`other:job:${id}`, "progress"))!);
    const pids = Object.keys(report.counters).filter((k) => k.startsWith("pid-"));
    expect(pids).toContain(`pid-${late.child.pid}`);
    expect(pids.length).toBe(2);
    expect(textLines(outputText(out))).toEqual(corpusLines);
  });
});

describe("a Redis that may evict keys", () => {
  const evicting = new Cluster(scratch.path("evicting-workdir"), ["--save", "", "--appendonly", "no", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]);
  afterEach(async () => {
    await evicting.stop();
    evicting.assertNoLeaks();
  });

  it("is refused by the coordinator, which says why", async () => {
    await evicting.startRedis();
    const p = evicting.spawn(["coordinator"]);
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/maxmemory-policy is allkeys-lru.*noeviction/);
  });
});
