/**
 * `sheaf run` over a small local input starts one thread before planning (cli/threads-to-start.ts),
 * and the pool starts the others when tasks wait for a thread: a small file cut into several slow
 * tasks must still run on every thread, and its output must be whole.
 */
import { afterAll, describe, expect, it } from "vitest";
import { threadsToStart } from "../../cli/threads-to-start.js";
import { FIXTURE_JOBS, Scratch, outputText, run, textLines } from "./helpers.js";
import { join } from "node:path";
import { truncateSync, writeFileSync } from "node:fs";

const s = new Scratch("thread-start");
afterAll(() => s.cleanup());

describe("threads started as the work needs them", () => {
  it("starts one thread for small local files, all of them otherwise", () => {
    const small = s.write("small.txt", "a\nb\n");
    const large = s.path("large.bin");
    writeFileSync(large, "");
    truncateSync(large, 2 << 20);
    expect(threadsToStart(4, [small])).toBe(1);
    expect(threadsToStart(4, [small, small])).toBe(1);
    expect(threadsToStart(4, [small, large])).toBe(4);
    expect(threadsToStart(4, [s.path(".")])).toBe(4); // a folder
    expect(threadsToStart(4, [join(s.path("."), "*.txt")])).toBe(4); // a glob
    expect(threadsToStart(4, ["s3://bucket/key"])).toBe(4);
    expect(threadsToStart(4, undefined)).toBe(4); // a table source
  });

  it("a small file cut into slow tasks runs them on both threads", () => {
    const lines = ["t1", "t2", "t3", "t4"]; // one 3-byte line a split, one task each
    const input = s.write("tasks.txt", lines.join("\n") + "\n");
    const out = s.fresh();
    const r = run({ job: join(FIXTURE_JOBS, "thread-ids.ts"), inputs: [input], output: out, workdir: s.path("wd"), splitSize: 3, threads: 2, params: { taskMs: "1000" }, quiet: false });
    expect(r.status, r.stderr).toBe(0);
    const m = /^\s*counters\s+(.*)$/m.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const counts = m![1]!.trim().split(/\s+/).map((kv) => Number(kv.split("=")[1]));
    expect(counts.length, r.stderr).toBe(2); // two threads took tasks
    expect(counts.reduce((a, b) => a + b, 0)).toBe(lines.length); // every task, once
    expect(textLines(outputText(out)).sort()).toEqual([...lines].sort());
  });
});
