/**
 * A Redis held BUSY (a long script) answers every call with the same error: the red team's workers
 * logged about 22,000 such lines (4.8 MB) in 30 s. logQueueErrors says a repeated error once per
 * 10 s, then how many times it came; a different error at once; a lost link not at all (its
 * connection reports that once).
 */
import { EventEmitter } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import { logQueueErrors } from "../../core/cluster/redis.js";

afterEach(() => vi.useRealTimers());

describe("logQueueErrors", () => {
  it("says a repeated error once per 10 s with its count", () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const emitter = new EventEmitter();
    logQueueErrors(emitter, "queue error", (m) => lines.push(m));
    const busy = () => emitter.emit("error", new Error("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."));
    for (let i = 0; i < 22_000; i++) busy();
    expect(lines).toEqual(["queue error: BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."]);
    emitter.emit("error", Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" }));
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(10_001);
    busy();
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/BUSY .* \(21999 more times\)$/);
    emitter.emit("error", new Error("NOPERM this user has no permissions to run the 'eval' command"));
    expect(lines.at(-1)).toBe("queue error: NOPERM this user has no permissions to run the 'eval' command");
  });
});
