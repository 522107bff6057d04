/**
 * The schemas are the one definition of what Sheaf reads back: checkMessage's result is typed by the
 * schema it checked against (no caller-chosen type), it is the message itself (fields the schema does
 * not name pass through), and every field the type promises is checked.
 */
import { describe, expect, it } from "vitest";
import { checkMessage, ifValid, Schemas, type Checkpoint, type TaskFailure, type TaskResult } from "../../core/security/messages.js";

const result = {
  kind: "reduce",
  taskId: "reduce-00001",
  attempt: 1,
  part: { path: "/out/_temporary/1/part-00001", name: "part-00001", bytes: 10, records: 2 },
  counters: { words: 2 },
  stats: { recordsIn: 2, bytesIn: 10, recordsOut: 2, bytesOut: 10, spills: 0, millis: 3.5 },
};

describe("checkMessage", () => {
  it("returns the message itself, typed by the schema, extra fields kept", () => {
    const data = { ...result, note: "from a newer worker" };
    const checked: TaskResult = checkMessage(Schemas.result, data, "result");
    expect(checked).toBe(data);
    expect((checked as unknown as { note: string }).note).toBe("from a newer worker");
  });

  it("checks every field the type promises, nested ones included", () => {
    const { millis: _millis, ...stats } = result.stats;
    expect(() => checkMessage(Schemas.result, { ...result, stats }, "result of reduce-00001")).toThrow(/result of reduce-00001 is malformed \(stats\.millis: /);
    expect(() => checkMessage(Schemas.result, { ...result, taskId: "../etc" }, "result")).toThrow(/taskId: must be a task id/);
  });

  it("refuses a checkpoint whose resume point names anything but offsets and counts", () => {
    const map: Checkpoint = { kind: "map", resume: { start: 100 }, recordsIn: 1, bytesIn: 100, counters: {}, badRecords: [], spills: [] };
    expect(checkMessage(Schemas.checkpoint, map, "it")).toBe(map);
    expect(() => checkMessage(Schemas.checkpoint, { ...map, resume: { start: 100, file: "/etc/passwd" } }, "it")).toThrow(/resume/);
  });
});

describe("ifValid", () => {
  it("types what fits and drops what does not (a failure from a worker; anything else)", () => {
    const failure: TaskFailure = { code: "USER_CODE_ERROR", message: "boom", retryable: true, taskId: "map-00000" as TaskFailure["taskId"], attempt: 2 };
    expect(ifValid(Schemas.failure, failure)).toBe(failure);
    expect(ifValid(Schemas.failure, { code: "X", message: "no attempt" })).toBeUndefined();
    expect(ifValid(Schemas.writerLock, { jobId: "j", by: "someone", pid: 1, host: "h", since: 0 })).toBeUndefined();
  });
});
