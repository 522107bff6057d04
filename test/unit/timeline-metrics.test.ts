/**
 * What one ended attempt adds to the cluster's metric totals (core/cluster/timeline.ts): the oracle
 * is the README's table of metrics, not the code.
 */
import { describe, expect, it } from "vitest";
import type { AttemptEnd } from "../../core/attempts.js";
import { DURATION_BUCKETS, metricIncrements } from "../../core/cluster/timeline.js";

const base: AttemptEnd = { taskId: "map-00000", kind: "map", index: 0, attempt: 1, backup: false, start: 1_000, end: 1_300, outcome: "committed", recordsIn: 10, bytesIn: 100, recordsOut: 20, bytesOut: 200 };
const totals = (a: AttemptEnd) => Object.fromEntries(metricIncrements(a));

describe("metric totals of an attempt", () => {
  it("a committed attempt counts its task, its duration's bucket and sum, and its records and bytes by stage", () => {
    expect(totals(base)).toEqual({
      "tasks:map:committed": 1,
      "duration:map:0.5": 1,
      "duration-sum-ms:map": 300,
      "records:map:in": 10, "bytes:map:in": 100, "records:map:out": 20, "bytes:map:out": 200,
    });
  });

  it("a failed attempt counts no records; a retry, a backup and a lost input are counted apart", () => {
    const failed = totals({ ...base, outcome: "failed", attempt: 2, lostInput: true, recordsIn: undefined });
    expect(failed["tasks:map:failed"]).toBe(1);
    expect(failed["records:map:in"]).toBeUndefined();
    expect(failed.retries).toBe(1);
    expect(failed["lost-map-outputs"]).toBe(1);
    const backup = totals({ ...base, kind: "reduce", attempt: 2, backup: true, outcome: "discarded" });
    expect(backup.speculative).toBe(1);
    expect(backup.retries).toBeUndefined(); // a backup shares its attempt's number: no retry
    expect(backup["tasks:reduce:discarded"]).toBe(1);
  });

  it("an attempt longer than the last bucket goes to +Inf", () => {
    const long = totals({ ...base, end: base.start + (DURATION_BUCKETS.at(-1)! + 1) * 1000 });
    expect(long["duration:map:+Inf"]).toBe(1);
  });
});
