/**
 * `--overwrite` is atomic from a reader's view (design §3; issue "Nothing lost on a rerun"): a job
 * failing at its plan, its maps or its reduces leaves the previous output complete, `_SUCCESS`
 * included, on `sheaf run` and on a cluster; a coordinator SIGKILLed after each step of the commit
 * (SHEAF_TEST_KILL_AFTER_COMMIT_STEP) is finished by the standby. Throughout, a reader polling the
 * output folder every millisecond always finds a complete old or a complete new output, checked
 * against word counts computed here by a plain loop.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster, type Proc } from "./cluster-harness.js";
import { FAULTY, params, runAsync, wordcountOracle } from "./fault-kit.js";
import { allLines, parseTsv, Scratch } from "./helpers.js";

const s = new Scratch("overwrite");
const out = s.path("wh", "counts");
const versions: string[][] = [];
const oracles = new Map<string, number>(); // a version's oracle, as text → its number

/** Corpus version v: three files whose word counts differ from every other version's. */
function corpus(v: number): string[] {
  return [0, 1, 2].map((f) => s.write(`v${v}/f${f}.txt`, Array.from({ length: 300 }, (_, i) => `alpha w${(i * (v + 2) + f) % 23} beta${v}`).join("\n") + "\n"));
}

const canonical = (m: Map<string, number>) => JSON.stringify([...m].sort(([a], [b]) => (a < b ? -1 : 1)));

/** What a reader finds in the output: the version it holds, or what is wrong. A swap during the read is read again. */
function readerSees(): string {
  for (;;) {
    let before: number;
    try {
      before = statSync(out).ino;
    } catch {
      return "no output folder";
    }
    let view: string;
    try {
      const names = readdirSync(out);
      if (!names.includes("_SUCCESS")) view = `no _SUCCESS (${names.join(", ")})`;
      else {
        const counts = new Map<string, number>();
        for (const n of names.filter((f) => f.startsWith("part-")).sort()) for (const [w, c] of parseTsv(readFileSync(join(out, n), "utf8"))) counts.set(w!, Number(c));
        const v = oracles.get(canonical(counts));
        view = v === undefined ? `a mix of ${counts.size} words` : `v${v}`;
      }
    } catch (err) {
      view = `unreadable: ${(err as Error).message}`;
    }
    try {
      if (statSync(out).ino === before) return view;
    } catch {
      return "no output folder";
    }
  }
}

/** Polls the reader every millisecond; returns the views it saw that were not a complete version. */
function poll(): { stop: () => string[]; seen: Set<string> } {
  const bad: string[] = [];
  const seen = new Set<string>();
  const timer = setInterval(() => {
    const v = readerSees();
    seen.add(v);
    if (!/^v\d+$/.test(v)) bad.push(v);
  }, 1);
  return { stop: () => (clearInterval(timer), bad), seen };
}

const runArgs = (v: number, extra: string[]) => ["run", FAULTY, "-i", ...versions[v]!, "-o", out, "--partitions", "3", "--split-size", "2k", "--workdir", s.path("run-wd"), "-q", ...extra];

beforeAll(() => {
  for (let v = 0; v < 8; v++) {
    versions.push(corpus(v));
    oracles.set(canonical(wordcountOracle(versions[v]!)), v);
  }
  expect(oracles.size).toBe(8);
});
afterAll(() => s.cleanup());

describe("sheaf run --overwrite", () => {
  it("a job failing at its plan, maps or reduces leaves the previous output; one that succeeds replaces it", async () => {
    const first = runAsync(runArgs(0, []));
    expect((await first.done).status).toBe(0);
    expect(readerSees()).toBe("v0");
    const reader = poll();
    const offset = allLines([versions[1]![0]!])[40]!.offset;
    const failing: [string, string[]][] = [
      ["plan", runArgs(1, ["--overwrite"]).map((a) => (a === versions[1]![0] ? s.path("missing.txt") : a))],
      ["map", [...runArgs(1, ["--overwrite", "--max-attempts", "1"]), ...params({ throwAt: offset, fatal: 1 })]],
      ["reduce", [...runArgs(1, ["--overwrite", "--max-attempts", "1"]), ...params({ throwKey: "alpha", reduceMs: 50 })]],
    ];
    for (const [stage, args] of failing) {
      const r = await runAsync(args).done;
      expect(r.status, `failing at ${stage}: ${r.stderr}`).not.toBe(0);
      expect(readerSees(), `after a failure at ${stage}`).toBe("v0");
    }
    const ok = await runAsync(runArgs(1, ["--overwrite"])).done;
    expect(ok.status, ok.stderr).toBe(0);
    expect(reader.stop()).toEqual([]);
    expect([...reader.seen].sort()).toEqual(["v0", "v1"]);
    expect(readerSees()).toBe("v1");
    expect(readdirSync(dirname(out)).filter((n) => n !== basename(out))).toEqual([]); // no staging folder left
  }, 120_000);
});

describe("sheaf run --overwrite, failing in its commit", () => {
  for (const step of ["staged", "parts", "success"] as const) {
    it(`a commit that fails after its step "${step}" leaves the previous output, complete, and nothing beside it`, async () => {
      rmSync(out, { recursive: true, force: true });
      expect((await runAsync(runArgs(6, [])).done).status).toBe(0);
      const reader = poll();
      const failed = await runAsync(runArgs(7, ["--overwrite"]), { SHEAF_TEST_KILL_AFTER_COMMIT_STEP: `throw:${step}` }).done;
      expect(failed.status, failed.stderr).toBe(1);
      expect(failed.stderr).toContain(`the commit failed after its step "${step}"`);
      expect(reader.stop(), "views that were not a complete version").toEqual([]);
      expect([...reader.seen]).toEqual(["v6"]);
      expect(readdirSync(out).sort()).toEqual(["_SUCCESS", "part-00000", "part-00001", "part-00002"]);
      expect(readdirSync(dirname(out)).filter((n) => n !== basename(out))).toEqual([]);
    }, 60_000);
  }
});

describe("sheaf run --overwrite, killed during its commit", () => {
  for (const [i, step] of (["staged", "parts", "success", "swapped", "old-removed"] as const).entries()) {
    it(`SIGKILLed after the commit step "${step}": a reader sees old or new throughout; the next run takes over and leaves nothing behind`, async () => {
      rmSync(out, { recursive: true, force: true });
      expect((await runAsync(runArgs(2, [])).done).status).toBe(0);
      const reader = poll();
      const killed = await runAsync(runArgs(3 + (i % 2), ["--overwrite"]), { SHEAF_TEST_KILL_AFTER_COMMIT_STEP: step }).done;
      expect(killed.signal, killed.stderr).toBe("SIGKILL");
      // Before the swap the old output is there; from the swap on, the new one.
      expect(readerSees()).toBe(["swapped", "old-removed"].includes(step) ? `v${3 + (i % 2)}` : "v2");
      // The next run finds the dead run's lock, clears what its commit left, and replaces the output.
      const next = await runAsync(runArgs(5, ["--overwrite"])).done;
      expect(next.status, next.stderr).toBe(0);
      expect(reader.stop(), "views that were not a complete version").toEqual([]);
      expect(readerSees()).toBe("v5");
      expect(readdirSync(out).sort()).toEqual(["_SUCCESS", "part-00000", "part-00001", "part-00002"]);
      expect(readdirSync(dirname(out)).filter((n) => n !== basename(out))).toEqual([]);
    }, 120_000);
  }
});

describe("a cluster, --overwrite", () => {
  const cluster = new Cluster(s.path("cluster-wd"));
  let leader: Proc;

  beforeAll(async () => {
    await cluster.startRedis();
    leader = await cluster.coordinator();
    await cluster.worker(2);
  }, 60_000);
  afterAll(async () => {
    await cluster.stop();
    cluster.assertNoLeaks();
  });

  const submit = (v: number, extra: string[] = []) =>
    cluster.run(["submit", FAULTY, "-i", ...versions[v]!, "-o", out, "--partitions", "3", "--split-size", "2k", "--overwrite", "--wait", "-q", ...extra]);

  it("a job failing in its maps leaves the previous output", async () => {
    rmSync(out, { recursive: true, force: true });
    expect((await submit(2)).code).toBe(0);
    const reader = poll();
    const offset = allLines([versions[3]![1]!])[30]!.offset;
    const r = await submit(3, ["--max-attempts", "1", ...params({ throwAt: offset, fatal: 1 })]);
    expect(r.code).not.toBe(0);
    expect(reader.stop()).toEqual([]);
    expect(readerSees()).toBe("v2");
  }, 120_000);

  for (const [i, step] of (["staged", "parts", "success", "swapped", "old-removed"] as const).entries()) {
    it(`a coordinator SIGKILLed after the commit step "${step}": the standby finishes it; a reader sees old or new throughout`, async () => {
      const v = 3 + i;
      const previous = readerSees();
      expect(previous).toMatch(/^v\d+$/);
      // The killer takes the lease from the current leader, with a standby behind it.
      const killer = await cluster.coordinator([], true, { SHEAF_TEST_KILL_AFTER_COMMIT_STEP: step });
      leader.child.kill("SIGTERM");
      await leader.exited;
      const standby = await cluster.coordinator([], true);
      const reader = poll();
      const r = await submit(v);
      expect(r.code, r.output).toBe(0);
      expect(await killer.exited).toBe("SIGKILL");
      expect(reader.stop(), `views that were neither ${previous} nor v${v}`).toEqual([]);
      expect([...reader.seen].every((x) => x === previous || x === `v${v}`), [...reader.seen].join(", ")).toBe(true);
      expect(readerSees()).toBe(`v${v}`);
      expect(readdirSync(out).sort()).toEqual(["_SUCCESS", "part-00000", "part-00001", "part-00002"]);
      expect(readdirSync(dirname(out)).filter((n) => n !== basename(out))).toEqual([]);
      expect(existsSync(join(out, "_temporary"))).toBe(false);
      leader = standby;
    }, 120_000);
  }
});

