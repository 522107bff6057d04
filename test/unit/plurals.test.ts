/** Issue 17: a count of one reads "1 map task", not "1 map tasks", in every summary and status line. */
import { describe, expect, it } from "vitest";
import { ProgressReporter } from "../../runner/progress.js";
import { describeOutcome } from "../../runner/pipeline-summary.js";
import { renderJob } from "../../runner/status.js";
import { plural } from "../../core/show.js";
import type { JobReport } from "../../core/progress.js";
import type { JobRecord } from "../../core/cluster/jobs.js";

const ONE: JobReport = {
  stage: "commit", mapsDone: 1, mapsTotal: 1, reducesDone: 1, reducesTotal: 1, recordsIn: 1, bytesIn: 10, bytesTotal: 10,
  startedAt: 0, running: 0, failedAttempts: 1, recordsOut: 1, bytesOut: 5, millis: 20, counters: {}, parts: 1, resumedBytes: 0, resumedKeys: 0,
};

describe("plurals", () => {
  it("plural() says one thing, and several things with thousands separators", () => {
    expect(plural(1, "map task")).toBe("1 map task");
    expect(plural(0, "record")).toBe("0 records");
    expect(plural(1234, "record")).toBe("1,234 records");
    expect(plural(2, "child", "children")).toBe("2 children");
  });

  it("the run summary of a one-task, one-record job uses the singular", () => {
    const text = new ProgressReporter("wc", { isTTY: false, write: () => true } as never).summary(ONE, "out/wc");
    expect(text).toContain("1 map task, 1 reduce task");
    expect(text).toContain("input   1 record,");
    expect(text).toContain("output  1 record, 5 B in 1 part file: out/wc");
    expect(text).not.toMatch(/\b1 (map tasks|reduce tasks|records|part files)\b/);
  });

  it("a pipeline stage line and sheaf status use the singular", () => {
    expect(describeOutcome({ state: "succeeded", millis: 5, recordsIn: 1, recordsOut: 1 })).toContain("1 record in, 1 out");
    const record = {
      spec: { id: "j1", name: "wc", submittedAt: 0, inputs: ["a"], output: "o" },
      state: "succeeded", progress: ONE, failedAttempts: 1, lastFailure: "boom",
    } as unknown as JobRecord;
    const text = renderJob(record, 100);
    expect(text).toContain("read      1 record,");
    expect(text).toContain("written   1 record, 5 B in 1 part file");
    expect(text).toContain("failed    1 attempt;");
  });
});
