/**
 * A plan's splits in columns (engine/split-table.ts) give back every split as it was planned, fresh
 * and checked, whether the plan was stored by this version or by one that stored a task object per
 * split; columns that do not describe one split each are refused.
 */
import { describe, expect, it } from "vitest";
import { checkPlan } from "../../engine/admission.js";
import { mapTask } from "../../engine/plan.js";
import { SplitTable } from "../../engine/split-table.js";
import { readStoredPlan, storedPlan } from "../../engine/stored-plan.js";
import { AllowedRoots } from "../../core/security/roots.js";
import type { Split } from "../../core/splits.js";
import type { JobId } from "../../core/ids.js";

const workdir = "/w";
const config = {
  jobId: "j-1",
  name: "j",
  artifact: "a".repeat(64),
  workdir,
  params: {},
  cwd: "/in",
  partitions: 2,
  output: "/out",
  formats: { input: { format: "lines", lineNumbers: true }, output: { format: "tsv" } },
  scratch: "/w/jobs/j-1",
  sortBufferBytes: 1 << 20,
  taskTimeoutMs: 60_000,
  skipBadRecords: 0,
  speculative: true,
  checkpointBytes: 1 << 20,
  checkpointMs: 10_000,
};
const spec = { id: "j-1" as JobId, workdir, output: "/out" };
// The oracle: the splits as a format plans them, every optional field somewhere.
const splits: Split[] = [
  { file: "/in/a.txt", start: 0, end: 10, firstLine: 1 },
  { file: "/in/a.txt", start: 10, end: 20, firstLine: 3 },
  { file: "/in/b.txt", start: 0, end: 5 },
  { file: "/in/c.parquet", start: 0, end: 2, unit: "rowGroups", bytes: 4096 },
  { file: "orders", start: 0, end: 1, unit: "range", range: { lo: null, hi: "100", nulls: true }, bytes: 10 },
];
const inputs = [{ path: "/in/a.txt", size: 20 }, { path: "/in/b.txt", size: 5 }, { path: "/in/c.parquet", size: 9000 }];
const plan = { config: config as never, inputs, splits: SplitTable.from(splits), reduces: 2 };

describe("a plan's splits in columns", () => {
  it("give back each split as planned, through JSON and the checks a read-back plan passes", () => {
    const back = checkPlan(readStoredPlan(JSON.parse(JSON.stringify(storedPlan(plan)))), spec, AllowedRoots.open);
    expect(back.splits.length).toBe(splits.length);
    expect(splits.map((_, i) => back.splits.at(i))).toEqual(splits);
    expect(back.splits.paths).toEqual(["/in/a.txt", "/in/b.txt", "/in/c.parquet", "orders"]);
    // Map task i reads split i, made fresh for its attempt.
    expect(mapTask(back, 3)).toEqual({ kind: "map", job: back.config, taskId: "map-00003", index: 3, attempt: 0, split: splits[3] });
    expect(mapTask(back, 3).split).not.toBe(mapTask(back, 3).split);
  });

  it("read a plan stored by an earlier version, a task object per split", () => {
    const maps = splits.map((split, index) => ({ kind: "map", taskId: `map-0000${index}`, index, attempt: 0, split }));
    const back = checkPlan(readStoredPlan(JSON.parse(JSON.stringify({ config, inputs, maps, reduces: 2 }))), spec, AllowedRoots.open);
    expect(splits.map((_, i) => back.splits.at(i))).toEqual(splits);
  });

  it("refuse columns that do not describe one split each", () => {
    const columns = storedPlan(plan).splits;
    const refused = (splitsData: object) => () => checkPlan({ config, inputs, splits: splitsData, reduces: 2 }, spec, AllowedRoots.open);
    expect(refused({ ...columns, end: columns.end.slice(1) })).toThrow(/different lengths/);
    expect(refused({ ...columns, file: columns.file.map(() => 9) })).toThrow(/names no listed file/);
    expect(refused({ ...columns, rest: { 7: { bytes: 1 } } })).toThrow(/split 7 of 5/);
    expect(refused({ ...columns, start: columns.start.map(() => -1) })).toThrow(/malformed/);
    // An earlier version's plan whose task i is not split i.
    const maps = splits.map((split, index) => ({ kind: "map", taskId: `map-0000${index}`, index: index + 1, attempt: 0, split }));
    expect(() => checkPlan(readStoredPlan({ config, inputs, maps, reduces: 2 }), spec, AllowedRoots.open)).toThrow(/malformed/);
  });
});
