/**
 * Issue 17, the sharp edges of what `sheaf run` prints: keys as the job wrote them, a failure that
 * names the job once. Each test failed on the code before its fix.
 */
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "./cluster-harness.js";
import { until } from "./fault-kit.js";
import { FIXTURE_JOBS, REPO, Scratch, run, runCli } from "./helpers.js";

const FIXTURE_PIPELINES = join(REPO, "test/fixtures/pipelines");

/** The sharp pipeline over "one two\nthree\nfour\n": its stage line and summary name bytes and the lines counter. */
function expectStageFigures(stderr: string): void {
  expect(stderr).toContain("stage count: succeeded in");
  expect(stderr).toMatch(/stage count: succeeded in .*, 3 records \(19 B\) in, 4 \(\d+ B\) out; counters lines=3$/m);
  expect(stderr).toMatch(/^  stage +state +time +records in +bytes in +records out +bytes out +job$/m);
  expect(stderr).toMatch(/^  count +succeeded +\S+ m?s +3 +19 B +4 +\d+ B +\S+$/m);
  expect(stderr).toMatch(/^  counters of count: lines=3$/m);
}

const s = new Scratch("sharp-edges");
afterAll(() => s.cleanup());

describe("sheaf run prints", () => {
  it("a bigint key as its digits when reduce throws on it", () => {
    const input = s.write("ids.csv", "id,amount\n100003,1.5\n100004,2\n100003,3\n");
    const r = run({ job: join(FIXTURE_JOBS, "bigint-keys.ts"), inputs: [input], output: s.fresh(), workdir: s.path("wd"), params: { bad: "100003" }, maxAttempts: 1 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("reduce threw on key 100003: cannot reduce this id");
    expect(r.stderr).not.toContain("100003n");
  });

  it("a pipeline's summary with each stage's bytes and counters, as a plain run's summary has them", () => {
    const dir = dirname(dirname(s.write("pipeline/in/a.txt", "one two\nthree\nfour\n")));
    const r = runCli(["run", join(FIXTURE_PIPELINES, "sharp.ts"), "--param", `dir=${dir}`, "--workdir", s.path("wd")]);
    expect(r.status, r.stderr).toBe(0);
    expectStageFigures(r.stderr);
  });
});

/** A job file whose line 7 is `line7`, the lines before it comments (one with non-ASCII text). */
function jobWithLine7(name: string, line7: string): string {
  const head = ['import { defineJob, lines, sum, tsv } from "sheaf";', "", "// naïve 日本語 😀", "", "function nothing(): void {}", "nothing();"];
  const tail = ["", `export default defineJob({ name: "${name}", input: lines(), map(l: string, emit) { emit(l, 1); }, reduce: (_k, v: Iterable<number>) => sum(v), output: tsv() });`];
  return s.write(`jobs/${name}.ts`, [...head, line7, ...tail].join("\n") + "\n");
}

describe("a job file that does not load names its line and column", () => {
  const fail = (job: string) => {
    const r = run({ job, inputs: [s.write("any.txt", "x\n")], output: s.fresh(), workdir: s.path("wd") });
    expect(r.status).toBe(1);
    return r.stderr.trimEnd();
  };

  it("a syntax error, its column counted in characters after non-ASCII text", () => {
    const job = jobWithLine7("syntax", 'const s = "日本語 ü"; const x = (;');
    expect(fail(job)).toMatch(/syntax\.ts:7:31: Unexpected ";"$/);
  });

  it("a syntax error only V8 finds (an invalid regular expression)", () => {
    const job = jobWithLine7("regex", "export const BAD = /a{2,1}/;");
    expect(fail(job)).toMatch(new RegExp(`^sheaf: job module ${job.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} failed to load: ${job.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:7:20: Invalid regular expression`));
  });

  it("a throw at import time, at the line that threw", () => {
    const job = jobWithLine7("throws", '  if (Date.now() > 0) throw new Error("no table to load");');
    expect(fail(job)).toContain(`${job}:7:29: no table to load`);
  });

  it("a field defineJob refuses, at the defineJob call", () => {
    const job = s.write("jobs/field.ts", 'import { defineJob } from "sheaf";\n\n\nexport default defineJob({ name: "x", input: 5 as never, map() {} });\n');
    expect(fail(job)).toMatch(/field\.ts:4:16: job\.input must be an input format/);
  });
});

describe("on a cluster, submit --wait", () => {
  const cluster = new Cluster(s.path("cluster-workdir"));
  beforeAll(async () => {
    await cluster.startRedis();
    await cluster.coordinator();
    await cluster.worker(2);
  }, 60_000);
  afterAll(async () => {
    await cluster.stop();
    cluster.assertNoLeaks();
  });

  const lastLine = (text: string) => text.trimEnd().split("\n").at(-1)!;

  it("ends a failed job with one line naming the job once, then the task and the record", async () => {
    const input = s.write("boom.txt", "one two\nbad\nthree\n");
    const args = [join(FIXTURE_JOBS, "boom.ts"), "--input", input, "--param", "fail=map", "--param", "bad=bad", "--max-attempts", "1", "-q"];
    const embedded = lastLine(run({ job: args[0]!, inputs: [input], output: s.fresh(), workdir: s.path("wd"), params: { fail: "map", bad: "bad" }, maxAttempts: 1 }).stderr);
    const r = await cluster.run(["submit", ...args, "--output", s.fresh(), "--wait"]);
    expect(r.code).toBe(1);
    const cause = `failed: task map-00000 (attempt 1 of 1): map threw on the record at ${input} byte 8: cannot map "bad"`;
    expect(embedded).toBe(`sheaf: job boom ${cause}`);
    const id = r.stdout.trim().split("\n")[0]!;
    expect(lastLine(r.output)).toBe(`sheaf: job ${id} ${cause}`);
    // The coordinator's log names it once too (it said "job <id> failed: job boom failed: task …").
    await until("the coordinator to log it", () => cluster.procs[0]!.output().includes(`job ${id} failed`), 10_000, 20);
    expect(cluster.procs[0]!.output()).toContain(`job ${id} ${cause}\n`);
  });

  it("ends a failed pipeline run naming the pipeline once, then the stage and its job", async () => {
    const dir = dirname(s.write("sharp/in/a.txt", "one two\nbad\nthree\n"));
    const r = await cluster.run(["submit", join(FIXTURE_PIPELINES, "sharp.ts"), "--param", `dir=${dirname(dir)}`, "--param", "bad=bad", "--max-attempts", "1", "--wait", "-q"]);
    expect(r.code).toBe(1);
    const line = lastLine(r.output);
    expect(line).toBe(`sheaf: pipeline run ${r.stdout.trim()} failed: stage count: job sharp.count failed: task map-00000 (attempt 1 of 1): map threw on the record at ${dir}/a.txt byte 8: cannot map "bad"`);
    expect(line.match(/pipeline/g)).toHaveLength(1);
  });

  it("a pipeline run's stage lines and summary show a counter's control characters escaped, as status does", async () => {
    const input = s.write("evil/in.txt", "a\nb\n");
    const file = s.write("evil/p.ts", `import { defineJob, definePipeline, lines, tsv } from "sheaf";
const j = defineJob({ name: "j", input: lines(), map(l: string, emit, ctx) { ctx.counter("evil\\u001b[2J").inc(); emit(l, 1); }, output: tsv() });
export default definePipeline({ name: "evil", stages: { one: { job: j, input: [${JSON.stringify(input)}], output: ${JSON.stringify(s.path("evil", "out"))} } } });
`);
    const r = await cluster.run(["submit", file, "--wait"]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).not.toContain("\u001b");
    expect(r.output).toContain("evil\\x1b[2J");
  });

  it("a pipeline run's summary with each stage's bytes and counters", async () => {
    const dir = dirname(dirname(s.write("cluster-pipeline/in/a.txt", "one two\nthree\nfour\n")));
    const r = await cluster.run(["submit", join(FIXTURE_PIPELINES, "sharp.ts"), "--param", `dir=${dir}`, "--wait"]);
    expect(r.code, r.output).toBe(0);
    expectStageFigures(r.output);
  });
});
