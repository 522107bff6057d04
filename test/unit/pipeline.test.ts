/**
 * Pipelines without processes: definePipeline's validation and order, path templates and the
 * logical time, stage resolution, fingerprints, and the DAG runner over fake hooks.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { definePipeline, defineJob, isPipeline, lines, postgres, tsv, type Pipeline, type PipelineSpec } from "../../core/api/index.js";
import { SheafError } from "../../core/errors.js";
import { closest } from "../../core/did-you-mean.js";
import { committedFingerprint, FINGERPRINT_FILE, stageFingerprint } from "../../core/pipeline/fingerprint.js";
import { resolveStages, type ResolvedStage } from "../../core/pipeline/stages.js";
import { expand, logicalTime, parseAt } from "../../core/pipeline/templates.js";
import { PipelineFailedError, runPipeline, type PipelineHooks, type StageOutcome } from "../../engine/pipeline-runner.js";
import type { JobReport } from "../../core/progress.js";

const map = () => {};
const files = defineJob({ name: "files", map });
const sink = defineJob({ name: "sink", map, output: postgres({ table: "t" }) });
const source = defineJob({ name: "source", input: postgres({ table: "t" }), map });

const pipe = (stages: PipelineSpec["stages"], name = "p"): Pipeline => definePipeline({ name, stages });

// ---------------------------------------------------------------------------------------------
// definePipeline
// ---------------------------------------------------------------------------------------------

describe("definePipeline validates once, naming the stage", () => {
  it("accepts a small DAG and freezes it", () => {
    const p = pipe({ a: { job: files, input: "in", output: "out/a" }, b: { job: files, input: "a", output: "out/b" } });
    expect(isPipeline(p)).toBe(true);
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.stages[0])).toBe(true);
    expect(p.stages.map((s) => [s.name, s.inputs, s.dependsOn])).toEqual([
      ["a", ["in"], []],
      ["b", ["a"], ["a"]],
    ]);
  });

  const bad: [string, PipelineSpec["stages"], RegExp][] = [
    ["an unknown stage in after", { a: { job: files, input: "in", output: "o/a" }, b: { job: files, input: "in", output: "o/b", after: ["a", "zz"] } }, /^pipeline p, stage b: after names an unknown stage "zz" \(stages: a, b\)$/],
    ["a stage whose job is not a job", { a: { job: { name: "x", map } as never, input: "in", output: "o" } }, /^pipeline p, stage a has no job: job must be the default export of a job module/],
    ["a stage without a job", { a: { input: "in", output: "o" } as never }, /^pipeline p, stage a has no job/],
    ["a sink stage used as a file input", { load: { job: sink, input: "in" }, next: { job: files, input: ["in2", "load"], output: "o" } }, /^pipeline p, stage next: input names stage load, which loads a sink and writes no files \(use after: \["load"\] to wait for it\)$/],
    ["a missing output for a file job", { a: { job: files, input: "in" } }, /^pipeline p, stage a: output is missing \(its job writes tsv files\)$/],
    ["an output given for a sink", { a: { job: sink, input: "in", output: "o" } }, /^pipeline p, stage a: its job loads postgres, which takes no output folder$/],
    ["a missing input", { a: { job: files, output: "o" } }, /^pipeline p, stage a: input is missing/],
    ["an empty input list", { a: { job: files, input: [], output: "o" } }, /^pipeline p, stage a: input is missing/],
    ["an input for a table source", { a: { job: source, input: "in", output: "o" } }, /^pipeline p, stage a: its job reads postgres, which takes no input$/],
    ["an empty input string", { a: { job: files, input: ["in", ""], output: "o" } }, /^pipeline p, stage a: input must be paths, globs or stage names$/],
    ["an empty output", { a: { job: files, input: "in", output: "" } }, /^pipeline p, stage a: output must be a folder path$/],
    ["a misspelt stage field", { a: { job: files, input: "in", output: "o", outputs: "x" } as never }, /^pipeline p, stage a: outputs is not a stage field/],
    ["partitions 0", { a: { job: files, input: "in", output: "o", partitions: 0 } }, /^pipeline p, stage a: partitions must be a positive integer$/],
    ["a parameter that is not a string", { a: { job: files, input: "in", output: "o", params: { n: 3 as never } } }, /^pipeline p, stage a: params\.n must be a string$/],
    ["a pool that is not a name", { a: { job: files, input: "in", output: "o", pool: "night ly" } }, /^pipeline p, stage a: pool must be a pool name/],
    ["priority 0", { a: { job: files, input: "in", output: "o", priority: 0 } }, /^pipeline p, stage a: priority must be a positive integer$/],
    ["a stage name with a slash", { "a/b": { job: files, input: "in", output: "o" } }, /^pipeline p, stage a\/b: a stage name is letters/],
  ];
  for (const [what, stages, message] of bad) {
    it(`rejects ${what}`, () => {
      expect(() => pipe(stages)).toThrow(message);
    });
  }

  it("rejects a pipeline without stages, or with a bad name", () => {
    expect(() => pipe({})).toThrow(/^pipeline p has no stages$/);
    expect(() => pipe({ a: { job: files, input: "in", output: "o" } }, "bad name")).toThrow(/pipeline\.name must be/);
    expect(() => definePipeline(null as never)).toThrow(/definePipeline expects an object/);
  });

  it("rejects a cycle through inputs, naming it", () => {
    expect(() => pipe({ a: { job: files, input: "b", output: "o/a" }, b: { job: files, input: "a", output: "o/b" } })).toThrow(/^pipeline p has a cycle: a → b → a$/);
  });

  it("rejects a cycle through after, naming only the stages on it", () => {
    const stages: PipelineSpec["stages"] = {
      start: { job: files, input: "in", output: "o/s" },
      x: { job: files, input: "start", output: "o/x", after: ["z"] },
      y: { job: files, input: "x", output: "o/y" },
      z: { job: files, input: "in", output: "o/z", after: ["y"] },
    };
    expect(() => pipe(stages)).toThrow(/^pipeline p has a cycle: x → z → y → x$/);
  });

  it("rejects a stage that waits for itself", () => {
    expect(() => pipe({ a: { job: files, input: "in", output: "o", after: ["a"] } })).toThrow(/^pipeline p has a cycle: a → a$/);
  });

  it("accepts a sink stage others wait for with after, and a table source", () => {
    const p = pipe({
      read: { job: source, output: "o/read" },
      load: { job: sink, input: "read" },
      report: { job: files, input: "in", output: "o/report", after: ["load"] },
    });
    expect(p.stages.map((s) => [s.name, s.dependsOn])).toEqual([
      ["read", []],
      ["load", ["read"]],
      ["report", ["load"]],
    ]);
    expect(p.stages[1]!.output).toBeUndefined();
  });

  it("orders stages topologically, whatever order they are written in", () => {
    const p = pipe({
      report: { job: files, input: ["joined", "extra/*.txt"], output: "o/report", after: ["audit"] },
      joined: { job: files, input: ["left", "right"], output: "o/joined" },
      audit: { job: files, input: "raw", output: "o/audit", after: ["left"] },
      right: { job: files, input: "raw/right", output: "o/right" },
      left: { job: files, input: "raw/left", output: "o/left" },
      lonely: { job: files, input: "raw", output: "o/lonely" },
    });
    const order = p.stages.map((s) => s.name);
    expect(order).toHaveLength(6);
    for (const s of p.stages) for (const d of s.dependsOn) expect(order.indexOf(d), `${d} before ${s.name}`).toBeLessThan(order.indexOf(s.name));
    // Depth first, in the order written: each stage right after what it needs.
    expect(order).toEqual(["left", "right", "joined", "audit", "report", "lonely"]);
    expect(p.stages.find((s) => s.name === "report")!.dependsOn).toEqual(["joined", "audit"]);
  });

  it("lists a stage named both as input and in after once, inputs first", () => {
    const p = pipe({ a: { job: files, input: "in", output: "o/a" }, b: { job: files, input: "in", output: "o/b" }, c: { job: files, input: ["b", "a"], output: "o/c", after: ["a", "b"] } });
    expect(p.stages.find((s) => s.name === "c")!.dependsOn).toEqual(["b", "a"]);
  });
});

// ---------------------------------------------------------------------------------------------
// Templates and the logical time
// ---------------------------------------------------------------------------------------------

describe("templates", () => {
  const ctx = { date: "2026-03-04", time: "2026-03-04T05-06-07", params: { region: "eu", "shard.n": "3", date: "ignored" } };

  it("expands {date}, {time} and {NAME}, every occurrence", () => {
    expect(expand("out/date={date}/at={time}/{region}-{region}/{shard.n}", ctx, "here")).toBe("out/date=2026-03-04/at=2026-03-04T05-06-07/eu-eu/3");
  });

  it("leaves text without templates and brace globs alone", () => {
    expect(expand("in/*.{a,b}/{1x}/plain", ctx, "here")).toBe("in/*.{a,b}/{1x}/plain");
  });

  it("{date} and {time} are the logical time's, even when a parameter has that name", () => {
    expect(expand("{date}", ctx, "here")).toBe("2026-03-04");
  });

  it("an unknown parameter is an error naming it and where it is", () => {
    let err: unknown;
    try {
      expand("in/{region}/{country}", ctx, "pipeline p, stage s");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SheafError);
    expect((err as SheafError).code).toBe("BAD_TEMPLATE");
    expect((err as SheafError).message).toBe("pipeline p, stage s: {country} is not {date}, {time} or a parameter (give --param country=…)");
  });

  it("logicalTime reads the instant in UTC by default", () => {
    expect(logicalTime(new Date("2026-03-04T05:06:07.890Z"))).toEqual({ date: "2026-03-04", time: "2026-03-04T05-06-07" });
    expect(logicalTime(new Date("2026-12-31T23:59:59Z"))).toEqual({ date: "2026-12-31", time: "2026-12-31T23-59-59" });
  });

  it("logicalTime prints midnight as hour 00, not 24", () => {
    expect(logicalTime(new Date("2026-03-05T00:00:05Z")).time).toBe("2026-03-05T00-00-05");
  });

  it("logicalTime reads the instant in a zone", () => {
    const at = new Date("2026-03-04T23:30:00Z");
    expect(logicalTime(at, "Asia/Tokyo")).toEqual({ date: "2026-03-05", time: "2026-03-05T08-30-00" });
    expect(logicalTime(at, "America/Los_Angeles")).toEqual({ date: "2026-03-04", time: "2026-03-04T15-30-00" });
    expect(logicalTime(at, "Asia/Kolkata")).toEqual({ date: "2026-03-05", time: "2026-03-05T05-00-00" });
    // Summer time: Los Angeles is UTC-7 in July.
    expect(logicalTime(new Date("2026-07-01T06:59:59Z"), "America/Los_Angeles").time).toBe("2026-06-30T23-59-59");
  });
});

describe("parseAt", () => {
  it("defaults to now", () => {
    const now = new Date("2026-01-02T03:04:05Z");
    expect(parseAt(undefined, now)).toBe(now);
  });

  it("reads ISO times; without a zone they are UTC", () => {
    expect(parseAt("2026-11-28").toISOString()).toBe("2026-11-28T00:00:00.000Z");
    expect(parseAt("2026-11-28T02:00:00Z").toISOString()).toBe("2026-11-28T02:00:00.000Z");
    expect(parseAt("2026-11-28T02:00:00").toISOString()).toBe("2026-11-28T02:00:00.000Z");
    expect(parseAt("2026-11-28T02:00").toISOString()).toBe("2026-11-28T02:00:00.000Z");
    expect(parseAt("2026-11-28T02:00:00.250").toISOString()).toBe("2026-11-28T02:00:00.250Z");
    expect(parseAt("2026-11-28T02:00:00+02:00").toISOString()).toBe("2026-11-28T00:00:00.000Z");
    expect(parseAt("2026-11-28T02:00:00-0530").toISOString()).toBe("2026-11-28T07:30:00.000Z");
  });

  it("rejects what is not an ISO time, quoting it", () => {
    for (const text of ["yesterday", "", "2026-13-45", "2026-11-28T25:00:00Z"]) {
      let err: unknown;
      try {
        parseAt(text);
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(SheafError);
      expect((err as SheafError).code).toBe("BAD_TIME");
      expect((err as SheafError).message).toContain(`--at ${JSON.stringify(text)} is not an ISO time`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// resolveStages
// ---------------------------------------------------------------------------------------------

describe("resolveStages", () => {
  const cwd = "/work/here";
  const at = new Date("2026-03-04T05:06:07Z");
  const p = pipe({
    clean: { job: files, input: "raw/{region}/{date}/*.csv", output: "warehouse/clean/date={date}", params: { region: "us", keep: "stage", mode: "strict" } },
    stamp: { job: files, input: "raw/stamp", output: "/abs/stamp/{time}", partitions: 3 },
    daily: { job: files, input: ["clean", "extra/{date}.txt", "stamp"], output: "warehouse/daily/{region}/date={date}", after: ["stamp"], params: { keep: "daily", region: "us" } },
    load: { job: sink, input: "daily" },
    report: { job: files, input: "raw/r", output: "r", after: ["load"], pool: "reports", priority: 3 },
  }, "nightly");

  it("expands templates, replaces an upstream stage by its output folder and merges params, --param winning", () => {
    const stages = resolveStages(p, { at, params: { region: "eu", mode: "lenient" }, cwd });
    const by = Object.fromEntries(stages.map((s) => [s.name, s]));
    expect(stages.map((s) => s.name)).toEqual(["clean", "stamp", "daily", "load", "report"]);
    expect(by.clean).toEqual({
      name: "clean",
      inputs: ["raw/eu/2026-03-04/*.csv"],
      from: [null],
      upstream: [],
      dependsOn: [],
      output: resolve(cwd, "warehouse/clean/date=2026-03-04"),
      params: { region: "eu", keep: "stage", mode: "lenient" },
    });
    expect(by.stamp!.output).toBe("/abs/stamp/2026-03-04T05-06-07");
    expect([by.report!.pool, by.report!.priority, by.stamp!.pool, by.stamp!.priority]).toEqual(["reports", 3, undefined, undefined]);
    expect(by.stamp!.partitions).toBeUndefined(); // a map-only job has no reduce partitions to fingerprint
    expect(by.daily).toEqual({
      name: "daily",
      inputs: [resolve(cwd, "warehouse/clean/date=2026-03-04"), "extra/2026-03-04.txt", "/abs/stamp/2026-03-04T05-06-07"],
      from: ["clean", null, "stamp"],
      upstream: ["clean", "stamp"],
      dependsOn: ["clean", "stamp"],
      output: resolve(cwd, "warehouse/daily/eu/date=2026-03-04"),
      params: { keep: "daily", region: "eu", mode: "lenient" },
    });
    expect("partitions" in by.daily!).toBe(false);
    expect(by.load!.output).toBeUndefined();
    expect(by.load!.inputs).toEqual([by.daily!.output]);
    expect(by.report!.dependsOn).toEqual(["load"]);
    expect(by.report!.upstream).toEqual([]);
  });

  it("keeps each stage's own params when there is no --param, and returns plain copies", () => {
    const stages = resolveStages(p, { at, params: {}, cwd });
    expect(stages[0]!.params).toEqual({ region: "us", keep: "stage", mode: "strict" });
    expect(stages[0]!.inputs).toEqual(["raw/us/2026-03-04/*.csv"]);
    stages[0]!.params.keep = "changed";
    expect(p.stages[0]!.params.keep).toBe("stage");
    expect(JSON.parse(JSON.stringify(stages))).toEqual(stages);
  });

  it("reads the logical time in the run's zone", () => {
    const stages = resolveStages(p, { at: new Date("2026-03-04T23:30:00Z"), tz: "Asia/Tokyo", params: {}, cwd });
    expect(stages[0]!.output).toBe(resolve(cwd, "warehouse/clean/date=2026-03-05"));
    expect(stages[1]!.output).toBe("/abs/stamp/2026-03-05T08-30-00");
  });

  it("an unknown template parameter is an error naming the stage and the parameter", () => {
    const q = pipe({ a: { job: files, input: "in", output: "o" }, b: { job: files, input: "in/{country}", output: "o2" } }, "q");
    expect(() => resolveStages(q, { at, params: {}, cwd })).toThrow("pipeline q, stage b: {country} is not {date}, {time} or a parameter (give --param country=…)");
    expect(resolveStages(q, { at, params: { country: "fr" }, cwd })[1]!.inputs).toEqual(["in/fr"]);
  });
});

// ---------------------------------------------------------------------------------------------
// Fingerprints
// ---------------------------------------------------------------------------------------------

describe("stage fingerprints", () => {
  const dir = mkdtempSync(join(tmpdir(), "sheaf-unit-fingerprint-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "a.txt"), "one\n");
  const stage = (over: Partial<ResolvedStage> = {}): ResolvedStage => ({
    name: "s", inputs: ["a.txt"], from: [null], upstream: [], dependsOn: [], output: join(dir, "out"), params: { k: "v" }, ...over,
  });
  const fp = (s: ResolvedStage, up: Record<string, string> = {}, sha = "sha") => stageFingerprint(s, sha, new Map(Object.entries(up)), dir);

  it("is stable, and changes with the code, params, partitions, output, an input's size or mtime, and upstream fingerprints", async () => {
    const base = await fp(stage());
    expect(await fp(stage())).toBe(base);
    expect(await fp(stage({ params: { k: "v" } }))).toBe(base);
    expect(await fp(stage(), {}, "other")).not.toBe(base);
    expect(await fp(stage({ params: { k: "w" } }))).not.toBe(base);
    expect(await fp(stage({ partitions: 2 }))).not.toBe(base);
    expect(await fp(stage({ output: join(dir, "out2") }))).not.toBe(base);

    utimesSync(join(dir, "a.txt"), new Date("2026-01-01T00:00:00Z"), new Date("2026-01-01T00:00:00Z"));
    const old = await fp(stage());
    utimesSync(join(dir, "a.txt"), new Date("2026-01-02T00:00:00Z"), new Date("2026-01-02T00:00:00Z"));
    expect(await fp(stage())).not.toBe(old);

    const up = stage({ inputs: [join(dir, "up"), "a.txt"], from: ["u", null], upstream: ["u"], dependsOn: ["u"] });
    expect(await fp(up, { u: "1" })).toBe(await fp(up, { u: "1" }));
    expect(await fp(up, { u: "1" })).not.toBe(await fp(up, { u: "2" }));
    const after = stage({ dependsOn: ["w"] });
    expect(await fp(after, { w: "1" })).not.toBe(await fp(after, { w: "2" }));
  });

  it("params are compared whatever their order", async () => {
    expect(await fp(stage({ params: { a: "1", b: "2" } }))).toBe(await fp(stage({ params: { b: "2", a: "1" } })));
  });

  it("a missing input is an error naming it", async () => {
    await expect(fp(stage({ inputs: ["nope/*.txt"] }))).rejects.toThrow(/input not found: nope\/\*\.txt/);
  });

  it("the committed fingerprint counts only with _SUCCESS", async () => {
    const out = join(dir, "committed");
    const s = stage({ output: out });
    expect(await committedFingerprint(s)).toBeUndefined();
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, FINGERPRINT_FILE), "abc\n");
    expect(await committedFingerprint(s)).toBeUndefined();
    writeFileSync(join(out, "_SUCCESS"), "");
    expect(await committedFingerprint(s)).toBe("abc");
  });
});

// ---------------------------------------------------------------------------------------------
// runPipeline over fake hooks
// ---------------------------------------------------------------------------------------------

interface Deferred {
  promise: Promise<{ jobId: string; report: JobReport }>;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** A DAG of resolved stages from `name: [dependencies]` (each dependency read as an upstream input). */
function dag(spec: Record<string, string[] | { upstream?: string[]; after?: string[] }>): ResolvedStage[] {
  return Object.entries(spec).map(([name, d]) => {
    const upstream = Array.isArray(d) ? d : d.upstream ?? [];
    const after = Array.isArray(d) ? [] : d.after ?? [];
    return {
      name,
      inputs: upstream.length ? upstream.map((u) => `/out/${u}`) : [`/raw/${name}`],
      from: upstream.length ? upstream : [null],
      upstream,
      dependsOn: [...upstream, ...after],
      output: `/out/${name}`,
      params: {},
    };
  });
}

/** Hooks whose stage runs finish when the test says so; records every call. */
function fakeHooks(options: { committed?: Record<string, string>; auto?: boolean } = {}) {
  const runs = new Map<string, Deferred>();
  const started: string[] = [];
  const events: string[] = [];
  const upstreamSeen = new Map<string, Record<string, string>>();
  const waiters: (() => void)[] = [];
  const hooks: PipelineHooks = {
    fingerprint(stage, upstream) {
      upstreamSeen.set(stage.name, Object.fromEntries(upstream));
      return `fp-${stage.name}(${stage.dependsOn.map((d) => upstream.get(d) ?? "?").join(",")})`;
    },
    committed: (stage) => options.committed?.[stage.name],
    run(stage) {
      started.push(stage.name);
      let resolve!: () => void, reject!: (err: Error) => void;
      const promise = new Promise<{ jobId: string; report: JobReport }>((res, rej) => {
        resolve = () => res({ jobId: `job-${stage.name}`, report: { recordsIn: 10, recordsOut: 5 } as JobReport });
        reject = (err) => rej(Object.assign(err, { jobId: `job-${stage.name}` }));
      });
      runs.set(stage.name, { promise, resolve, reject });
      if (options.auto) resolve();
      for (const w of waiters.splice(0)) w();
      return promise;
    },
    onStage: (name, o) => void events.push(`${name}:${o.state}`),
  };
  /** Resolves once the runner has started `n` stage runs in all (letting pending microtasks run). */
  const startedCount = async (n: number) => {
    while (started.length < n) await new Promise<void>((r) => waiters.push(r));
    await new Promise((r) => setTimeout(r, 10));
  };
  return { hooks, runs, started, events, upstreamSeen, startedCount };
}

const states = (o: Record<string, StageOutcome>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.state]));

describe("runPipeline", () => {
  it("starts independent stages together, and a stage once all its dependencies succeeded", async () => {
    const f = fakeHooks();
    const done = runPipeline("p", dag({ a: [], b: [], c: ["a", "b"] }), f.hooks);
    await f.startedCount(2);
    expect(f.started).toEqual(["a", "b"]); // both running, neither finished
    f.runs.get("b")!.resolve();
    await new Promise((r) => setTimeout(r, 10));
    expect(f.started).toEqual(["a", "b"]); // c still waits for a
    f.runs.get("a")!.resolve();
    await f.startedCount(3);
    expect(f.started).toEqual(["a", "b", "c"]);
    expect(f.upstreamSeen.get("c")).toEqual({ a: "fp-a()", b: "fp-b()" });
    f.runs.get("c")!.resolve();
    const outcomes = await done;
    expect(states(outcomes)).toEqual({ a: "succeeded", b: "succeeded", c: "succeeded" });
    expect(outcomes.c).toMatchObject({ jobId: "job-c", recordsIn: 10, recordsOut: 5, fingerprint: "fp-c(fp-a(),fp-b())" });
    expect(f.events.filter((e) => e.startsWith("c:"))).toEqual(["c:pending", "c:running", "c:succeeded"]);
  });

  it("a stage waiting with after starts only when that stage succeeded", async () => {
    const f = fakeHooks();
    const done = runPipeline("p", dag({ a: [], d: { after: ["a"] }, e: [] }), f.hooks);
    await f.startedCount(2);
    expect(f.started).toEqual(["a", "e"]);
    f.runs.get("a")!.resolve();
    await f.startedCount(3);
    expect(f.started).toEqual(["a", "e", "d"]);
    f.runs.get("d")!.resolve();
    f.runs.get("e")!.resolve();
    expect(states(await done)).toEqual({ a: "succeeded", d: "succeeded", e: "succeeded" });
  });

  it("a failed stage marks its dependents not run, an independent branch still succeeds, and the error names the stage", async () => {
    const f = fakeHooks();
    const done = runPipeline("nightly", dag({ a: [], b: ["a"], c: { after: ["b"] }, d: [], e: ["d"] }), f.hooks);
    await f.startedCount(2);
    expect(f.started).toEqual(["a", "d"]);
    f.runs.get("a")!.reject(new Error("job words failed: task map-00000 (attempt 1 of 1): map threw on the record at in/a.txt byte 4: boom"));
    await new Promise((r) => setTimeout(r, 10));
    f.runs.get("d")!.resolve();
    await f.startedCount(3);
    f.runs.get("e")!.resolve();
    let err: unknown;
    try {
      await done;
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PipelineFailedError);
    expect((err as PipelineFailedError).stage).toBe("a");
    expect((err as Error).message).toBe("pipeline nightly failed: stage a: job words failed: task map-00000 (attempt 1 of 1): map threw on the record at in/a.txt byte 4: boom");
    const outcomes = (err as { outcomes: Record<string, StageOutcome> }).outcomes;
    expect(states(outcomes)).toEqual({ a: "failed", b: "not run", c: "not run", d: "succeeded", e: "succeeded" });
    expect(outcomes.a!.jobId).toBe("job-a");
    expect(outcomes.b!.error).toBe("depends on a");
    expect(outcomes.c!.error).toBe("depends on b");
    expect(f.started).toEqual(["a", "d", "e"]);
  });

  // Regression (a bug, fixed): the "not run" reason listed every dependency not yet succeeded, so a
  // stage still running when a sibling dependency failed was named too ("depends on a, b" although
  // a then succeeded).
  it("a stage not run names only the dependencies that failed, not one still running", async () => {
    const f = fakeHooks();
    const done = runPipeline("p", dag({ a: [], b: [], c: ["a", "b"] }), f.hooks);
    await f.startedCount(2);
    f.runs.get("b")!.reject(new Error("b broke"));
    await new Promise((r) => setTimeout(r, 10));
    f.runs.get("a")!.resolve();
    const err = await done.catch((e) => e);
    expect(states(err.outcomes)).toEqual({ a: "succeeded", b: "failed", c: "not run" });
    expect(err.outcomes.c.error).toBe("depends on b");
  });

  it("names the first stage that failed when several do", async () => {
    const f = fakeHooks();
    const done = runPipeline("p", dag({ a: [], b: [] }), f.hooks);
    await f.startedCount(2);
    f.runs.get("b")!.reject(new Error("b broke"));
    await new Promise((r) => setTimeout(r, 10));
    f.runs.get("a")!.reject(new Error("a broke"));
    await expect(done).rejects.toThrow("pipeline p failed: stage b: b broke");
  });

  it("a fingerprint that cannot be computed (a missing input) fails the stage", async () => {
    const f = fakeHooks({ auto: true });
    f.hooks.fingerprint = (stage) => {
      if (stage.name === "a") throw new SheafError("MISSING_INPUT", "input not found: /raw/a");
      return `fp-${stage.name}`;
    };
    const err = await runPipeline("p", dag({ a: [], b: ["a"], c: [] }), f.hooks).catch((e) => e);
    expect(err.message).toBe("pipeline p failed: stage a: input not found: /raw/a");
    expect(states(err.outcomes)).toEqual({ a: "failed", b: "not run", c: "succeeded" });
    expect(f.started).toEqual(["c"]);
  });

  it("skips a stage whose committed output has the same fingerprint, and still runs what depends on it", async () => {
    const f = fakeHooks({ auto: true, committed: { a: "fp-a()", b: "stale", c: "fp-c(fp-a(),fp-b())" } });
    const outcomes = await runPipeline("p", dag({ a: [], b: [], c: ["a", "b"] }), f.hooks);
    expect(states(outcomes)).toEqual({ a: "skipped", b: "succeeded", c: "skipped" });
    expect(outcomes.a).toMatchObject({ fingerprint: "fp-a()", millis: 0 });
    expect(outcomes.a!.jobId).toBeUndefined();
    expect(f.started).toEqual(["b"]);
    expect(f.upstreamSeen.get("c")).toEqual({ a: "fp-a()", b: "fp-b()" });
  });

  it("skips everything when everything is committed with the same fingerprints", async () => {
    const f = fakeHooks({ auto: true, committed: { a: "fp-a()", b: "fp-b(fp-a())", c: "fp-c(fp-b(fp-a()))" } });
    const outcomes = await runPipeline("p", dag({ a: [], b: ["a"], c: { after: ["b"] } }), f.hooks);
    expect(states(outcomes)).toEqual({ a: "skipped", b: "skipped", c: "skipped" });
    expect(f.started).toEqual([]);
  });

  it("--force reruns stages whose output is committed with the same fingerprint", async () => {
    const f = fakeHooks({ auto: true, committed: { a: "fp-a()", b: "fp-b(fp-a())" } });
    const outcomes = await runPipeline("p", dag({ a: [], b: ["a"] }), f.hooks, { force: true });
    expect(states(outcomes)).toEqual({ a: "succeeded", b: "succeeded" });
    expect(f.started).toEqual(["a", "b"]);
  });

  it("a resumed run keeps what its stages already did and runs the rest", async () => {
    const f = fakeHooks({ auto: true });
    const previous: Record<string, StageOutcome> = {
      a: { state: "succeeded", jobId: "job-a-before", fingerprint: "fp-a()" },
      b: { state: "failed", jobId: "job-b-before", fingerprint: "fp-b(fp-a())", error: "boom" },
    };
    const outcomes = await runPipeline("p", dag({ a: [], b: ["a"] }), f.hooks, { previous });
    expect(f.started).toEqual(["b"]);
    expect(outcomes.a).toEqual(previous.a);
    expect(outcomes.b).toMatchObject({ state: "succeeded", jobId: "job-b", fingerprint: "fp-b(fp-a())" });
  });

  it("a cancelled run marks running stages cancelled and the rest not started", async () => {
    const f = fakeHooks();
    const controller = new AbortController();
    const done = runPipeline("p", dag({ a: [], b: ["a"] }), f.hooks, { signal: controller.signal });
    await f.startedCount(1);
    controller.abort();
    f.runs.get("a")!.reject(new Error("aborted"));
    const err = await done.catch((e) => e);
    expect(err).toBeInstanceOf(SheafError);
    expect(err.code).toBe("PIPELINE_CANCELLED");
    expect(f.started).toEqual(["a"]);
    expect(f.events).toContain("a:cancelled");
    expect(f.events.filter((e) => e.startsWith("b:"))).toEqual(["b:pending", "b:not run"]);
  });
});

describe("resolveStages refuses clashing outputs and resolves partitions", () => {
  const reducing = defineJob({ name: "r", map, reduce: map });
  it("refuses two stages writing one folder, or one inside the other's", () => {
    const same = pipe({ a: { job: files, input: "x", output: "out/same" }, b: { job: files, input: "y", output: "out/same" } }, "p");
    expect(() => resolveStages(same, { at: new Date(), params: {}, cwd: "/w" })).toThrow(/stages a and b write the same output folder/);
    const nested = pipe({ a: { job: files, input: "x", output: "out" }, b: { job: files, input: "y", output: "out/{date}" } }, "p");
    expect(() => resolveStages(nested, { at: new Date(), params: {}, cwd: "/w" })).toThrow(/stages a and b write nested output folders/);
  });
  it("gives a reducing stage the partitions it will run with: its own, --partitions, the job's, then the default", () => {
    const p = pipe({ own: { job: reducing, input: "x", output: "o1", partitions: 5 }, flag: { job: reducing, input: "x", output: "o2" } }, "p");
    const byFlag = Object.fromEntries(resolveStages(p, { at: new Date(), params: {}, cwd: "/w", partitions: 3, defaultPartitions: 2 }).map((s) => [s.name, s.partitions]));
    expect(byFlag).toEqual({ own: 5, flag: 3 });
    const byDefault = Object.fromEntries(resolveStages(p, { at: new Date(), params: {}, cwd: "/w", defaultPartitions: 2 }).map((s) => [s.name, s.partitions]));
    expect(byDefault).toEqual({ own: 5, flag: 2 });
  });
});

describe("a misspelt stage name in an input", () => {
  it("is refused when resolving, before any stage runs, with the stage meant", () => {
    const job = defineJob({ name: "j", input: lines(), map() {}, output: tsv() });
    const pipeline = definePipeline({
      name: "typo",
      stages: { clean: { job, input: "in/*.txt", output: "out/clean" }, daily: { job, input: "cleen", output: "out/daily" } },
    });
    expect(() => resolveStages(pipeline, { at: new Date(), params: {}, cwd: tmpdir() })).toThrow('pipeline typo, stage daily: input "cleen" names no stage and no file: did you mean stage "clean"?');
    // A path that exists, or one close to no stage, is a path (its absence is reported when the stage runs).
    const far = definePipeline({ name: "far", stages: { clean: { job, input: "in/*.txt", output: "out/clean" }, daily: { job, input: "orders-2026", output: "out/daily" } } });
    expect(resolveStages(far, { at: new Date(), params: {}, cwd: tmpdir() })[1]!.inputs).toEqual(["orders-2026"]);
  });

});

describe("closest", () => {
  it("finds a name within a few edits, and nothing far", () => {
    expect(closest("cleen", ["clean", "daily"])).toBe("clean");
    expect(closest("dialy", ["clean", "daily"])).toBe("daily");
    expect(closest("Load", ["load"])).toBe("load");
    expect(closest("orders", ["clean", "daily"])).toBeUndefined();
    expect(closest("x", ["a", "b"])).toBeUndefined(); // one letter off a one-letter name is no evidence
  });
});

describe("rerunning part of a pipeline", () => {
  const chain = () => dag({ a: [], b: ["a"], c: ["b"], d: [] });

  it("--only b reruns b alone (committed a skipped, c and d not run)", async () => {
    const f = fakeHooks({ committed: { a: "fp-a()", b: "fp-b(fp-a())", c: "fp-c(fp-b(fp-a()))", d: "fp-d()" }, auto: true });
    const outcomes = await runPipeline("p", chain(), f.hooks, { only: "b" });
    expect(states(outcomes)).toEqual({ a: "skipped", b: "succeeded", c: "not run", d: "not run" });
    expect(f.started).toEqual(["b"]);
  });

  it("--only b fails, running nothing, when a stage it reads is not committed", async () => {
    const f = fakeHooks({ auto: true });
    const err = await runPipeline("p", chain(), f.hooks, { only: "b" }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/stage a: has no committed output for this run, and --only b runs no other stage/);
    expect(f.started).toEqual([]);
  });

  it("--from b reruns b and everything after it; before it, committed stages skip", async () => {
    const f = fakeHooks({ committed: { a: "fp-a()", b: "fp-b(fp-a())", c: "fp-c(fp-b(fp-a()))", d: "fp-d()" }, auto: true });
    const outcomes = await runPipeline("p", chain(), f.hooks, { from: "b" });
    expect(states(outcomes)).toEqual({ a: "skipped", b: "succeeded", c: "succeeded", d: "skipped" });
    expect(f.started.sort()).toEqual(["b", "c"]);
  });

  it("an unknown stage is refused before anything runs, naming the stages", async () => {
    const f = fakeHooks({ auto: true });
    await expect(runPipeline("p", chain(), f.hooks, { from: "bb" })).rejects.toThrow('pipeline p has no stage "bb" (--from); its stages: a, b, c, d');
    expect(f.started).toEqual([]);
  });
});
