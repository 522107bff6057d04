import { describe, expect, it } from "vitest";
import { CommittedResults } from "../../engine/committed.js";
import { taskId } from "../../core/ids.js";
import type { TaskResult } from "../../core/tasks.js";

const stats = { recordsIn: 1, bytesIn: 1, recordsOut: 0, bytesOut: 0, spills: 0, millis: 0 };
const map = (i: number, extra: Partial<TaskResult> = {}): TaskResult => ({ kind: "map", taskId: taskId("map", i), attempt: 1, counters: {}, stats: { ...stats }, ...extra });

describe("CommittedResults", () => {
  it("keeps a byte per task, not its result: which committed and which name files, and totals the same as a sum over all of them", () => {
    const c = new CommittedResults(5, 1);
    const results: TaskResult[] = [
      map(0),
      map(1, { counters: { lines: 3 } }),
      map(2, { counters: { lines: 4, empty: 0 }, mapOutput: { path: "/s/map-00002/a/map.out", indexCrc: 7 } }),
      map(3, { badRecords: [{ file: "/in", offset: 9, error: "bad" }], stats: { ...stats, resumed: 5 } }),
      { kind: "reduce", taskId: taskId("reduce", 0), attempt: 1, counters: { keys: 2 }, stats: { ...stats, resumed: 1 }, part: { path: "/o/p", name: "part-00000", bytes: 10, records: 2 } },
    ];
    for (const r of results) c.add(r);
    expect(results.every((r) => c.has(r.taskId))).toBe(true);
    expect(c.has(taskId("map", 4))).toBe(false);
    expect(c.hasTask("map", 3)).toBe(true);
    expect(c.hasTask("reduce", 1)).toBe(false);
    // Read back from the store when needed: the tasks whose results name a map output or a part.
    expect([...c.withFiles("map")]).toEqual(["map-00002"]);
    expect([...c.withFiles("reduce")]).toEqual(["reduce-00000"]);
    expect(c.badRecords()).toEqual([{ file: "/in", offset: 9, error: "bad" }]);
    // The oracle: a plain sum over every result.
    const counters: Record<string, number> = {};
    for (const r of results) for (const [k, v] of Object.entries(r.counters)) counters[k] = (counters[k] ?? 0) + v;
    expect(c.totals).toEqual({ counters, recordsOut: 2, bytesOut: 10, parts: 1, badRecords: 1, resumedBytes: 5, resumedKeys: 1 });
  });

  it("takes back a lost map output's result, and its counters with it (a counter no result names any more goes)", () => {
    const c = new CommittedResults(2, 0);
    c.add(map(0, { counters: { lines: 3 } }));
    const lost = map(1, { counters: { lines: 4, only: 1 }, mapOutput: { path: "/s/map-00001/a/map.out", indexCrc: 1 } });
    c.add(lost);
    c.remove(lost);
    expect(c.has(lost.taskId)).toBe(false);
    expect([...c.withFiles("map")]).toEqual([]);
    expect(c.totals.counters).toEqual({ lines: 3 });
    c.add({ ...lost, counters: { lines: 4 } });
    expect(c.totals.counters).toEqual({ lines: 7 });
  });

  it("refuses a result for no task of the plan (it would be committed with the job)", () => {
    const c = new CommittedResults(2, 1);
    expect(() => c.add(map(2))).toThrow(/no such task/);
    expect(() => c.add({ ...map(0), taskId: taskId("reduce", 1) })).toThrow(/no such task/);
  });
});
