/** The pieces of issue 20's operations that need no cluster: log lines, stage timings, the workers' table, backoff. */
import { describe, expect, it } from "vitest";
import { formatLogLine } from "../../core/log.js";
import type { AttemptEnd } from "../../core/attempts.js";
import { hostsOf, stageTimings } from "../../runner/job-timing.js";
import { renderWorkers } from "../../runner/workers.js";
import { renderLogs } from "../../runner/logs.js";
import { backoffMs, signature } from "../../coordinator/notifier.js";

const NOW = new Date("2026-12-07T04:00:00.000Z");

describe("log lines", () => {
  it("text: time, component, message, then the fields the message does not name", () => {
    expect(formatLogLine("text", "worker", "task map-00001 started", { job: "j1", task: "map-00001", attempt: 2 }, NOW)).toBe(
      "2026-12-07T04:00:00.000Z worker: task map-00001 started  job=j1 attempt=2\n",
    );
    expect(formatLogLine("text", "coordinator", "job j1 succeeded", { job: "j1" }, NOW)).toBe("2026-12-07T04:00:00.000Z coordinator: job j1 succeeded\n");
    expect(formatLogLine("text", "worker", "ready", {}, NOW)).toBe("2026-12-07T04:00:00.000Z worker: ready\n");
  });

  it("json: one object per line with every field, the level info unless given", () => {
    const line = formatLogLine("json", "worker", 'a "quoted"\nmessage', { job: "j1", task: "map-00001", attempt: 1, level: "error", at: undefined }, NOW);
    expect(line.endsWith("\n") && line.indexOf("\n") === line.length - 1).toBe(true);
    expect(JSON.parse(line)).toEqual({ time: "2026-12-07T04:00:00.000Z", level: "error", component: "worker", msg: 'a "quoted"\nmessage', job: "j1", task: "map-00001", attempt: 1 });
    expect(JSON.parse(formatLogLine("json", "coordinator", "x", undefined, NOW)).level).toBe("info");
  });
});

const timing = (kind: "map" | "reduce", taskId: string, attempt: number, host: string, start: number, end: number, ok = true): AttemptEnd =>
  ({ kind, taskId, index: 0, attempt, backup: false, host, worker: `${host}:1:abc`, thread: 1, start, end, outcome: ok ? "committed" : "failed", ...(ok ? {} : { code: "USER_CODE_ERROR" }) });

describe("stage timings and hosts", () => {
  const timeline = [
    timing("map", "map-00000", 1, "a", 100, 300, false),
    timing("map", "map-00001", 1, "b", 120, 250),
    timing("map", "map-00000", 2, "b", 1300, 1400),
    timing("reduce", "reduce-00000", 1, "a", 1500, 1800),
  ];

  it("each stage from its first start to its last end, attempts and failures counted", () => {
    expect(stageTimings(timeline)).toEqual([
      { stage: "map", startedAt: 100, endedAt: 1400, attempts: 3, failed: 1 },
      { stage: "reduce", startedAt: 1500, endedAt: 1800, attempts: 1, failed: 0 },
    ]);
    expect(stageTimings([])).toEqual([]);
  });

  it("hosts by attempts, most first", () => {
    expect(hostsOf(timeline)).toEqual([{ host: "a", attempts: 2 }, { host: "b", attempts: 2 }]);
    expect(hostsOf([...timeline, timing("map", "map-00002", 1, "b", 1, 2)])[0]).toEqual({ host: "b", attempts: 3 });
    // An attempt that never reached a worker (stopped while queued) names no host.
    const { host: _, ...queued } = timing("map", "map-00003", 1, "a", 1, 2);
    expect(hostsOf([...timeline, { ...queued, outcome: "stopped" }])).toEqual(hostsOf(timeline));
  });
});

describe("sheaf workers and sheaf logs", () => {
  it("a table of live workers, their names escaped", () => {
    expect(renderWorkers([])).toBe("no live workers");
    const text = renderWorkers([{ id: "h:1:a", host: "h\x1b[2J", pid: 1, threads: 2, running: ["j/map-00001#1"], runningCount: 1, rss: 100 << 20, heapUsed: 1, version: "0.1.0", startedAt: 0, at: 9_000 }], 10_000);
    expect(text).toContain("h\\x1b[2J");
    expect(text).toContain("1.0 s ago");
    expect(text).toContain("j/map-00001#1");
  });

  it("one attempt's lines under its header, a failure with the line of the user's file", () => {
    const logs = [
      { task: "map-00000", attempt: 1, host: "h", worker: "w", at: 0, lines: ["one"], dropped: 3, error: "USER_CODE_ERROR: boom", where: "jobs/x.ts:9:9" },
      { task: "map-00000", attempt: 2, host: "h", worker: "w", at: 0, lines: ["two"], dropped: 0 },
    ];
    const first = renderLogs("j", logs, { attempt: 1 });
    expect(first).toBe("== map-00000 attempt 1 on h, ended 1970-01-01T00:00:00.000Z ==\n(3 earlier lines not kept)\none\nfailed: USER_CODE_ERROR: boom (at jobs/x.ts:9:9)");
    expect(renderLogs("j", logs, { task: "map-00001" })).toContain("no output recorded for job j task map-00001");
  });
});

describe("notifications", () => {
  it("back off 1 s doubling, at most 5 min", () => {
    expect([1, 2, 3, 9, 12].map(backoffMs)).toEqual([1000, 2000, 4000, 256_000, 300_000]);
  });

  it("sign the body with HMAC-SHA256", () => {
    // echo -n '{"a":1}' | openssl dgst -sha256 -hmac secret
    expect(signature("secret", '{"a":1}')).toBe("sha256=aa9e2e3575f5d7098b6caccd790888c36d5fdb63342a73bada2d6a51747a8494");
  });
});
