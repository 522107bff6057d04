/**
 * Mistakes refused before anything runs, with one line that says what to do (issue "Nothing lost on
 * a rerun", findings 3, 5 and 9): a misspelt stage name in an input (the stage before it used to
 * run first, then "input not found"), `--at` on a plain job (ignored, exit 0), a scheduled job that
 * writes files without `--output` (it failed at every fire time). On `sheaf run` and on a cluster.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "./cluster-harness.js";
import { EXAMPLE_JOBS, REPO, Scratch, runCli } from "./helpers.js";

const s = new Scratch("refusals");
const cluster = new Cluster(s.path("wd"));
const WORDCOUNT = join(EXAMPLE_JOBS, "wordcount.ts");
let input = "";
let typo = "";

beforeAll(async () => {
  input = s.write("in/a.txt", "alpha beta\n");
  typo = s.write(
    "typo.ts",
    `import { defineJob, definePipeline, lines, tsv } from "sheaf";
const j = defineJob({ name: "j", input: lines(), map(l: string, emit) { emit(l, 1); }, output: tsv() });
export default definePipeline({ name: "typo", stages: {
  clean: { job: j, input: ${JSON.stringify(input)}, output: ${JSON.stringify(s.path("wh", "clean"))} },
  daily: { job: j, input: "cleen", output: ${JSON.stringify(s.path("wh", "daily"))} } } });
`,
  );
  await cluster.startRedis();
});
afterAll(async () => {
  await cluster.stop();
  cluster.assertNoLeaks();
  s.cleanup();
});

const oneLine = (stderr: string) => stderr.trim().split("\n");

describe("refused before anything runs", () => {
  it("a misspelt stage in an input: no stage runs, and the stage meant is named", async () => {
    const r = runCli(["run", typo, "--workdir", s.path("run-wd")]);
    expect(r.status).toBe(1);
    expect(oneLine(r.stderr)).toEqual(['sheaf: pipeline typo, stage daily: input "cleen" names no stage and no file: did you mean stage "clean"?']);
    const sub = await cluster.run(["submit", typo]);
    expect(sub.code).toBe(1);
    expect(sub.output).toContain('did you mean stage "clean"?');
    expect(existsSync(s.path("wh", "clean"))).toBe(false);
    expect(await cluster.client().zcard("sheaf:runs")).toBe(0);
  });

  it("--at (or --force) on a plain job", async () => {
    const out = s.path("out-at");
    const r = runCli(["run", WORDCOUNT, "-i", input, "-o", out, "--workdir", s.path("run-wd"), "--at", "2026-03-01"]);
    expect(r.status).toBe(1);
    expect(oneLine(r.stderr)).toEqual(["sheaf: --at is for pipelines: job wordcount has no logical time or stages (pass values to a job with --param)"]);
    expect(existsSync(out)).toBe(false);
    const sub = await cluster.run(["submit", WORDCOUNT, "-i", input, "-o", out, "--force"]);
    expect(sub.code).toBe(1);
    expect(sub.output).toContain("sheaf: --force is for pipelines");
    expect(await cluster.client().zcard("sheaf:jobs")).toBe(0);
  });

  it("a URL as a location (s3://, gs://, hdfs://, file://): one line naming it, and no folder named after it", async () => {
    const cwd = s.fresh("url-cwd");
    mkdirSync(cwd);
    const cases: [string[], string][] = [
      [["-i", input, "-o", "out", "--workdir", "gs://my-bucket/wd/"], "sheaf run: workdir gs://my-bucket/wd/: gs:// is not a storage Sheaf knows; give a folder path or s3://bucket/prefix"],
      [["-i", "gs://b/in/*.txt", "-o", "out"], "sheaf run: input gs://b/in/*.txt: gs:// is not a storage Sheaf knows; give a folder path or s3://bucket/prefix"],
      [["-i", input, "-o", "out", "--workdir", "hdfs://nn/sheaf"], "sheaf run: workdir hdfs://nn/sheaf: hdfs:// is not a storage Sheaf knows; give a folder path or s3://bucket/prefix"],
      [["-i", input, "-o", "http://example.com/out"], "sheaf run: output http://example.com/out: http:// is not a storage Sheaf knows; give a folder path or s3://bucket/prefix"],
      [["-i", `file://${input}`, "-o", "out"], `sheaf run: input file://${input}: give the path itself, not a file:// URL; give a folder path or s3://bucket/prefix`],
    ];
    for (const [args, said] of cases) {
      const r = runCli(["run", WORDCOUNT, ...args], { cwd });
      expect(r.status, r.stderr).toBe(1);
      expect(oneLine(r.stderr)).toEqual([`sheaf: ${said}`]);
    }
    const sub = await cluster.run(["submit", WORDCOUNT, "-i", input, "-o", s.path("out-url"), "--workdir", "gs://my-bucket/wd/"]);
    expect(sub.code).toBe(1);
    expect(sub.output).toContain("sheaf: sheaf submit: workdir gs://my-bucket/wd/: gs:// is not a storage Sheaf knows");
    expect(await cluster.client().zcard("sheaf:jobs")).toBe(0);
    // Nothing was made in the working folder: no `s3:` folder, no `out`, no `.sheaf`.
    expect(readdirSync(cwd)).toEqual([]);
    // An s3:// workdir is a store's: `sheaf run` keeps everything on its host (its local copy), never a folder named after the URL.
    const ok = runCli(["run", WORDCOUNT, "-i", input, "-o", s.path("out-s3-workdir"), "--workdir", "s3://my-bucket/wd/", "-q"], { cwd });
    expect(ok.status, ok.stderr).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("a scheduled job that writes files, without --output", async () => {
    const r = await cluster.run(["schedule", "add", "nightly", WORDCOUNT, "-i", input, "--every", "10s"]);
    expect(r.code).toBe(1);
    expect(oneLine(r.output)).toEqual(["sheaf: job wordcount writes tsv files: give it --output (a folder; {date} and {time} in it are the run's logical time)"]);
    expect(await cluster.client().smembers("sheaf:schedules")).toEqual([]);
  });

  it("a CSV column typed but not in the header, naming the header (finding 4)", async () => {
    const csvFile = s.write("in/orders.csv", "order_id,amount\n1,2.50\n2,10\n");
    const job = s.write("amt.ts", `import { defineJob, csv, tsv } from "sheaf";
export default defineJob({ name: "amt", input: csv({ columns: { amout: "float64" } }), map(r: { amount: unknown }, emit) { emit("t", typeof r.amount); }, output: tsv() });
`);
    const want = `csv() columns amout are not in the header of ${csvFile} (order_id, amount); did you mean amount (for amout)?`;
    const out = s.path("out-amt");
    const r = runCli(["run", job, "-i", csvFile, "-o", out, "--workdir", s.path("run-wd")]);
    expect(r.status).toBe(1);
    expect(oneLine(r.stderr)).toEqual([`sheaf: ${want}`]);
    expect(existsSync(out)).toBe(false);
    await cluster.coordinator();
    await cluster.worker(1);
    const sub = await cluster.run(["submit", job, "-i", csvFile, "-o", s.path("out-amt-cluster"), "--wait"]);
    expect(sub.code).toBe(1);
    expect(sub.output).toContain(want);
  }, 60_000);

  it("sheaf --version; schedule add takes run's job flags, --allow-root included", async () => {
    const version = runCli(["--version"]);
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).version);
    const outside = await cluster.run(["schedule", "add", "confined", WORDCOUNT, "-i", input, "-o", "/tmp/elsewhere/{date}", "--every", "1h", "--allow-root", s.root]);
    expect(outside.code).toBe(1);
    expect(outside.output).toContain("sheaf: output /tmp/elsewhere/{date} is outside the allowed roots");
    const ok = await cluster.run(["schedule", "add", "flags", WORDCOUNT, "-i", input, "-o", s.path("sched", "{date}"), "--every", "1h", "--partitions", "3", "--task-timeout", "60000", "--no-speculative", "--allow-root", s.root]);
    expect(ok.code, ok.output).toBe(0);
    const spec = JSON.parse((await cluster.client().hget("sheaf:schedule:flags", "spec"))!);
    expect(spec.settings).toMatchObject({ partitions: 3, taskTimeoutMs: 60000, speculative: false });
    expect((await cluster.run(["schedule", "remove", "flags"])).code).toBe(0);
  }, 60_000);
});
