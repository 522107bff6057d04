/**
 * How a cluster numbers attempts: a queue job is one attempt, the one the driver gave the run (the
 * driver alone retries), so failureOf turns a failed queue job back into a TaskFailure of that
 * attempt, whatever number the worker's message says.
 */
import { describe, expect, it } from "vitest";
import { failureOf } from "../../coordinator/queue-executor.js";
import type { Task, TaskFailure } from "../../core/tasks.js";

const task = (attempt: number) => ({ kind: "map", taskId: "map-00003", attempt } as unknown as Task);
const reason = (f: Partial<TaskFailure>) => JSON.stringify({ code: "USER_CODE_ERROR", message: "boom", retryable: true, taskId: "map-00003", ...f });

describe("failureOf", () => {
  it("is the attempt the run was given", () => {
    expect(failureOf(task(1), reason({ attempt: 1 }))).toEqual({ code: "USER_CODE_ERROR", message: "boom", retryable: true, taskId: "map-00003", attempt: 1 });
    expect(failureOf(task(2), reason({ attempt: 2 })).attempt).toBe(2);
  });

  it("never takes the worker's number for it (a queue job is one attempt: the driver counts)", () => {
    expect(failureOf(task(2), reason({ attempt: 9 })).attempt).toBe(2);
    expect(failureOf(task(3), reason({ attempt: 0 })).attempt).toBe(3);
  });

  it("wraps a failure that is not a worker's (a task stalled past the workers' limit) as TASK_LOST, retryable", () => {
    expect(failureOf(task(2), "job stalled more than allowable limit")).toEqual({
      code: "TASK_LOST", message: "job stalled more than allowable limit", retryable: true, taskId: "map-00003", attempt: 2,
    });
  });
});
