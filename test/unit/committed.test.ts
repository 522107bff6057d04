import { describe, expect, it } from "vitest";
import { CommittedResults } from "../../engine/committed.js";
import { taskId } from "../../core/ids.js";
import type { TaskResult } from "../../core/tasks.js";

const stats = { recordsIn: 1, bytesIn: 1, recordsOut: 0, bytesOut: 0, spills: 0, millis: 0 };
const map = (i: number, extra: Partial<TaskResult> = {}): TaskResult => ({ kind: "map", taskId: taskId("map", i), attempt: 1, counters: {}, stats: { ...stats }, ...extra });

describe("CommittedResults", () => {
  it("keeps whole only the results a later step reads, and totals the same as a sum over all of them", () => {
    const c = new CommittedResults();
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
    expect([...c.keptResults()].map((r) => r.taskId)).toEqual(["map-00002", "map-00003", "reduce-00000"]);
    expect(c.get(taskId("map", 0))).toBeUndefined();
    // The oracle: a plain sum over every result.
    const counters: Record<string, number> = {};
    for (const r of results) for (const [k, v] of Object.entries(r.counters)) counters[k] = (counters[k] ?? 0) + v;
    expect(c.totals).toEqual({ counters, recordsOut: 2, bytesOut: 10, parts: 1, badRecords: 1, resumedBytes: 5, resumedKeys: 1 });
  });

  it("takes back a lost map output's result, and its counters with it (a counter no result names any more goes)", () => {
    const c = new CommittedResults();
    c.add(map(0, { counters: { lines: 3 } }));
    const lost = map(1, { counters: { lines: 4, only: 1 }, mapOutput: { path: "/s/map-00001/a/map.out", indexCrc: 1 } });
    c.add(lost);
    expect(c.remove(taskId("map", 0))).toBeUndefined(); // not kept: its output cannot be lost
    expect(c.remove(lost.taskId)).toBe(lost);
    expect(c.has(lost.taskId)).toBe(false);
    expect(c.totals.counters).toEqual({ lines: 3 });
    c.add({ ...lost, counters: { lines: 4 } });
    expect(c.totals.counters).toEqual({ lines: 7 });
  });
});
