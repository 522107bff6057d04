/**
 * Checkpoints planted by someone who can write to the workdir or the output folder must not lead a
 * task outside its own input and files: a map checkpoint whose resume names another file, and a
 * reduce checkpoint whose part file is a symlink (or lies under a symlinked folder) to a secret.
 * The job runs for real (`sheaf run`, the faulty fixture holds a task in setup while the test plants
 * the checkpoint); its output must equal a plain-loop word count and never hold the secret.
 */
import { mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAULTY, expectNoTempFiles, expectOracle, freshDir, markers, runAsync, until, wordcountOracle, writeCorpus } from "./fault-kit.js";
import { Scratch, outputText, runArgs, type RunSpec } from "./helpers.js";

const s = new Scratch("security-checkpoints");
afterAll(() => s.cleanup());

const SECRET_WORD = "zzsecretzz";
const SPLIT = 16 << 10;
let input = "";
let secret = "";
let oracle: Map<string, number>;

beforeAll(() => {
  input = writeCorpus(s, "in", 1, 200 << 10, 400, 7)[0]!;
  oracle = wordcountOracle([input]);
  secret = s.write("private/secret.txt", `${SECRET_WORD} classified material\n`.repeat(40));
});

/** The map task ids `sheaf run` plans for one file (the planner's loop: a tail up to 10% over stays with the last split). */
function mapIds(size: number): string[] {
  let n = 1;
  for (let start = 0; size - start > SPLIT * 1.1; start += SPLIT) n++;
  return Array.from({ length: n }, (_, i) => `map-${String(i).padStart(5, "0")}`);
}

/** Runs the faulty word count with `task` held in setup until `plant` has run; returns the CLI's result. */
async function runPlanted(name: string, task: string, extra: Record<string, string>, plant: (r: RunSpec & { workdir: string; output: string }) => void) {
  const marks = freshDir(s, `marks-${name}`);
  const release = s.path(`release-${name}`);
  const r = {
    job: FAULTY,
    inputs: [input],
    output: s.fresh(name),
    workdir: s.path(`wd-${name}`),
    partitions: 1,
    threads: 1,
    splitSize: SPLIT,
    params: { markDir: marks, holdTask: task, holdAt: "setup", holdFile: release, ...extra },
    quiet: false,
  };
  const run = runAsync([...runArgs(r), "--no-speculative"]);
  await until(`${task} held in setup`, () => markers(marks, task, "held").length > 0);
  plant(r);
  writeFileSync(release, "");
  const res = await run.done;
  expect(res.status, res.stderr).toBe(0);
  return { res, r };
}

describe("a planted checkpoint cannot lead a task outside its own input and files", () => {
  const resumes = {
    "names another file": () => ({ file: secret, start: 0, end: statSync(secret).size, unit: "bytes" }),
    "starts before the task's split (re-reading the splits before it)": () => ({ start: 0 }),
  };
  for (const [i, [variant, resume]] of Object.entries(resumes).entries()) {
    it(`map: a resume that ${variant} is refused; every map reads its own split once`, async () => {
      const ids = mapIds(statSync(input).size);
      expect(ids.length).toBeGreaterThanOrEqual(12);
      // map-00000 is held in setup (one thread: no other map has started), then fails on its first
      // record, so both first attempts and a retry find the planted checkpoint.
      const { res, r } = await runPlanted(`map-${i}`, "map-00000", { throwAt: "0", throwAttempt: "1" }, (r) => {
        const jobs = join(r.workdir, "jobs");
        const [jobId] = readdirSync(jobs);
        for (const id of ids) {
          const dir = join(jobs, jobId!, id, "checkpoint");
          mkdirSync(dir, { recursive: true });
          const evil = { kind: "map", resume: resume(), recordsIn: 0, bytesIn: 0, counters: {}, badRecords: [], spills: [], progress: 1e12 };
          writeFileSync(join(dir, "checkpoint-evil.json"), JSON.stringify(evil));
        }
      });
      expect(outputText(r.output)).not.toContain(SECRET_WORD);
      expectOracle(r.output, oracle);
      expect(res.stderr).toMatch(/task map-00000 attempt 1 failed \(will retry\)/);
      // map-00000's split starts at 0: a resume from 0 is its own (and harmless); every other map refuses it.
      const refused = res.stderr.match(/checkpoint \S+\/map-\d+\/checkpoint\/checkpoint-evil\.json not used: .*resume.*/g) ?? [];
      expect(refused.length, res.stderr).toBe(variant === "names another file" ? ids.length : ids.length - 1);
      expectNoTempFiles(r.output, r.workdir);
    });
  }

  for (const [i, variant] of (["a symlinked part file", "a part file under a symlinked folder"] as const).entries()) {
    it(`reduce: ${variant} is never copied into the part`, async () => {
      const first = [...oracle.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))[0]!;
      // reduce-00000 is held in setup while the checkpoint is planted, then fails on its first key
      // once: the retry looks for a checkpoint to continue from.
      const { res, r } = await runPlanted(`reduce-${i}`, "reduce-00000", { throwKey: first }, (r) => {
        const dir = join(r.output, "_temporary", "reduce-00000-checkpoint");
        mkdirSync(dir, { recursive: true });
        let part: string;
        if (variant === "a symlinked part file") {
          mkdirSync(join(dir, "attempt-9-evil"));
          part = join(dir, "attempt-9-evil", "part-00000");
          symlinkSync(secret, part);
        } else {
          symlinkSync(dirname(secret), join(dir, "attempt-9-evil"));
          part = join(dir, "attempt-9-evil", basename(secret));
        }
        const evil = { kind: "reduce", lastKey: "", counters: {}, part: { path: part, bytes: statSync(secret).size, records: 40 }, progress: 1e12 };
        writeFileSync(join(dir, "checkpoint-evil.json"), JSON.stringify(evil));
      });
      expect(outputText(r.output)).not.toContain(SECRET_WORD);
      expectOracle(r.output, oracle);
      expect(res.stderr).toMatch(/task reduce-00000 attempt 1 failed \(will retry\)/);
      expect(res.stderr).toMatch(/checkpoint .*checkpoint-evil\.json not used: .*symbolic link/);
      expectNoTempFiles(r.output, r.workdir);
    });
  }
});
