/**
 * Bounded payloads and fan-in: a map task's result and a reduce task's message do not grow with
 * maps × partitions (map outputs are referenced through an index the worker reads), and a reduce
 * over more map outputs than the merge fan-in merges them in passes, so it never holds them all
 * open: under `ulimit -n 256` a job of 1,500 map tasks still runs.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskExecutor } from "../../core/executor.js";
import type { Task, TaskOutcome } from "../../core/tasks.js";
import { CLI, EXAMPLE_JOBS, outputText, parseTsv, REPO, Scratch, wordCounts, builtBundleJob } from "./helpers.js";

const s = new Scratch("payloads");
afterAll(() => s.cleanup());
const WORDCOUNT = join(EXAMPLE_JOBS, "wordcount.ts");
const dist = (p: string) => import(join(REPO, "dist", p));
let text = "";
let input = "";


beforeAll(() => {
  text = Array.from({ length: 300 }, (_, i) => `w${i % 17} x${i % 5}`).join("\n") + "\n";
  input = s.write("in/words.txt", text);
});

describe("bounded payloads", () => {
  /** Runs word count in this process over `maps` splits and `partitions` reduces, recording each message and result. */
  async function recorded(splitSize: number, partitions: number) {
    const [{ loadModule }, { planJob }, { JobDriver }, { ThreadPool }] = await Promise.all([
      dist("core/artifact.js"), dist("engine/plan.js"), dist("engine/driver.js"), dist("worker/pool.js"),
    ]);
    const workdir = s.path("wd");
    const artifact = await builtBundleJob(WORDCOUNT, workdir);
    const job = await loadModule(artifact.path);
    const jobId = `wc-${splitSize}-${partitions}`;
    const output = s.fresh();
    const plan = await planJob(job, { jobId, name: "wordcount", artifact: artifact.sha256, workdir, params: {}, cwd: REPO, output, scratch: join(workdir, "jobs", jobId), sortBufferBytes: 1 << 20 }, { inputs: [input], splitSize, partitions, defaultPartitions: partitions });
    const pool = new ThreadPool({ threads: 2 });
    const sizes = { reduceTask: 0, mapResult: 0, maps: plan.splits.length };
    const executor: TaskExecutor = {
      concurrency: 2,
      async run(task: Task, signal?: AbortSignal, onStart?: () => void): Promise<TaskOutcome> {
        if (task.kind === "reduce") sizes.reduceTask = Math.max(sizes.reduceTask, JSON.stringify(task).length);
        const outcome: TaskOutcome = await pool.run(task, signal, onStart);
        if (outcome.ok && task.kind === "map") sizes.mapResult = Math.max(sizes.mapResult, JSON.stringify(outcome.result).length);
        return outcome;
      },
      close: async () => {},
    };
    try {
      await new JobDriver(plan, executor, { retry: { maxAttempts: 1, backoffMs: 10 } }).run();
    } finally {
      await pool.close();
    }
    expect(new Map(parseTsv(outputText(output)).map(([w, n]) => [w!, Number(n)]))).toEqual(wordCounts(text));
    return sizes;
  }

  it("a reduce task's message and a map task's result stay the same size from 4 to 400 map tasks and 2 to 64 partitions", async () => {
    const small = await recorded(text.length / 4, 2);
    const large = await recorded(Math.ceil(text.length / 400), 64);
    expect(small.maps).toBeLessThanOrEqual(5);
    expect(large.maps).toBeGreaterThanOrEqual(300);
    // Only digits in names and counters differ.
    expect(Math.abs(large.reduceTask - small.reduceTask)).toBeLessThan(64);
    expect(Math.abs(large.mapResult - small.mapResult)).toBeLessThan(64);
  }, 120_000);
});

describe("bounded merge fan-in", () => {
  it("a job of 1,500 map tasks runs with at most 256 open files, with the right counts", () => {
    const many = s.write("many/words.txt", Array.from({ length: 750 }, (_, i) => `w${i % 9}`).join("\n").slice(0, 1500));
    const out = s.fresh();
    const cmd = `ulimit -n 256 && exec "${process.execPath}" "${CLI}" run "${WORDCOUNT}" -i "${many}" -o "${out}" --workdir "${s.path("wd2")}" --split-size 1 -p 2 -t 2 -q`;
    const r = spawnSync("bash", ["-c", cmd], { encoding: "utf8", timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(new Map(parseTsv(outputText(out)).map(([w, n]) => [w!, Number(n)]))).toEqual(wordCounts(readFileSync(many, "utf8")));
  }, 300_000);
});
