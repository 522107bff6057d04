/**
 * Overwrite is atomic from a reader's view (design §3): a job commit over a finished output, stopped
 * after each of its steps (a coordinator killed there), leaves the old output or the new one
 * complete, never neither and never a mix; the next coordinator's commit (a resume) finishes it.
 * A reader here is anyone who lists the folder and, when `_SUCCESS` is there, reads its part files.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OutputCommitter, type CommitStep } from "../../engine/committer.js";
import { exchangePaths } from "../../core/exchange.js";
import type { PartFile } from "../../core/tasks.js";

const root = mkdtempSync(join(tmpdir(), "sheaf-overwrite-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const STEPS: CommitStep[] = ["staged", "parts", "success", "swapped", "old-removed"];
const OLD = { "part-00000": "old zero\n", "part-00001": "old one\n", "part-00002": "old two\n" };
const NEW = { "part-00000": "new zero\n", "part-00001": "new one\n" };
let n = 0;

/** An output holding OLD, finished, and a new job's committed parts under its `_temporary`. */
function setUp(): { output: string; parts: PartFile[] } {
  const output = join(root, `case-${++n}`, "out");
  mkdirSync(output, { recursive: true });
  for (const [name, text] of Object.entries(OLD)) writeFileSync(join(output, name), text);
  writeFileSync(join(output, "_SUCCESS"), "");
  const parts = Object.entries(NEW).map(([name, text], i): PartFile => {
    const dir = join(output, "_temporary", `reduce-0000${i}-attempt-1-abcd`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, name), text);
    return { path: join(dir, name), name, bytes: text.length, records: 1 };
  });
  return { output, parts };
}

/** What a reader finds: "old", "new", or what is wrong. */
function readerSees(output: string): string {
  if (!existsSync(output)) return "no output folder";
  const names = readdirSync(output);
  if (!names.includes("_SUCCESS")) return `no _SUCCESS (${names.join(", ")})`;
  const parts = Object.fromEntries(names.filter((f) => f.startsWith("part-")).sort().map((f) => [f, readFileSync(join(output, f), "utf8")]));
  if (JSON.stringify(parts) === JSON.stringify(OLD)) return "old";
  if (JSON.stringify(parts) === JSON.stringify(NEW)) return "new";
  return `a mix: ${JSON.stringify(parts)}`;
}

class Killed extends Error {}

describe("a job commit over a finished output", () => {
  it("swaps the folders in one step here (renameat2 built and supported)", () => {
    const a = join(root, "xa"), b = join(root, "xb");
    mkdirSync(a);
    mkdirSync(b);
    writeFileSync(join(a, "in-a"), "");
    expect(exchangePaths(a, b)).toBe(true);
    expect(readdirSync(b)).toEqual(["in-a"]);
  });

  it("shows a reader the old output or the new one after every step", async () => {
    const { output, parts } = setUp();
    const seen: string[] = [];
    const committer = new OutputCommitter({ output, jobId: "j-1" }, undefined, async () => void seen.push(readerSees(output)), () => void seen.push(readerSees(output)));
    await committer.commitJob("j-1", parts, [], undefined, true);
    const firstNew = seen.indexOf("new");
    expect(seen.slice(0, firstNew).every((v) => v === "old"), seen.join(" | ")).toBe(true);
    expect(seen.slice(firstNew).every((v) => v === "new"), seen.join(" | ")).toBe(true);
    expect(readdirSync(output).sort()).toEqual(["_SUCCESS", ...Object.keys(NEW)]);
    expect(readdirSync(dirname(output))).toEqual([basename(output)]);
  });

  for (const step of STEPS) {
    it(`killed after "${step}", leaves old or new complete, and the next coordinator's commit finishes it`, async () => {
      const { output, parts } = setUp();
      const killer = new OutputCommitter({ output, jobId: "j-2" }, undefined, async () => {}, (s) => {
        if (s === step) throw new Killed(s);
      });
      await expect(killer.commitJob("j-2", parts, [], "fp-1", true)).rejects.toThrow(Killed);
      expect(["old", "new"]).toContain(readerSees(output));
      // The next leader resumes the job: it makes `_temporary` again, then commits the same parts.
      mkdirSync(join(output, "_temporary"), { recursive: true });
      await new OutputCommitter({ output, jobId: "j-2" }).commitJob("j-2", parts, [], "fp-1", true);
      expect(readerSees(output)).toBe("new");
      expect(readdirSync(output).sort()).toEqual(["_SUCCESS", "_fingerprint", ...Object.keys(NEW)]);
      expect(readdirSync(dirname(output))).toEqual([basename(output)]);
    });
  }

  it("aborted (a failed job), leaves the old output as it was and nothing of its own", async () => {
    const { output } = setUp();
    await new OutputCommitter({ output, jobId: "j-3" }).abort("j-3");
    expect(readerSees(output)).toBe("old");
    expect(readdirSync(output).sort()).toEqual(["_SUCCESS", ...Object.keys(OLD)]);
  });

  it("without --overwrite, refuses an output another job finished meanwhile, and keeps it", async () => {
    const { output, parts } = setUp();
    const committer = new OutputCommitter({ output, jobId: "j-4" });
    await expect(committer.commitJob("j-4", parts, [], undefined, false)).rejects.toThrow(/already holds a finished job's output/);
    await committer.abort("j-4");
    expect(readerSees(output)).toBe("old");
    expect(readdirSync(dirname(output))).toEqual([basename(output)]);
  });
});

describe("a commit resumed after it had finished", () => {
  it("is a no-op even when a redelivered attempt wrote a committed part into _temporary again (chaos seed 2026: the job failed with ENOENT though its output was in)", async () => {
    const { output, parts } = setUp();
    const { MemoryJobStore } = await import("../../engine/job-store.js");
    const store = new MemoryJobStore();
    await new OutputCommitter({ output, jobId: "job-1" }, undefined, async () => {}, () => {}, store).commitJob("job-1", parts);
    expect(readerSees(output)).toBe("new");
    // The leader died before recording the job's end; an attempt redelivered by the queue wrote its
    // part again under a _temporary the resume made again.
    mkdirSync(dirname(parts[1]!.path), { recursive: true });
    writeFileSync(parts[1]!.path, "new one\n");
    await new OutputCommitter({ output, jobId: "job-1" }, undefined, async () => {}, () => {}, store).commitJob("job-1", parts);
    expect(readerSees(output)).toBe("new");
    expect(readdirSync(output).sort()).toEqual(["_SUCCESS", "part-00000", "part-00001"]);
  });
});
