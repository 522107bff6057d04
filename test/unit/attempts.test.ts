/**
 * How a cluster numbers attempts: a run given to the queue starts at the task's attempt number, and
 * the queue's own retries number on from it (the worker's attempt is `attempt + attemptsMade`).
 * failureOf turns a failed queue job back into the TaskFailure the driver counts.
 */
import { describe, expect, it } from "vitest";
import { failureOf } from "../../coordinator/queue-executor.js";
import type { Task, TaskFailure } from "../../core/tasks.js";

const task = (attempt: number) => ({ kind: "map", taskId: "map-00003", attempt } as unknown as Task);
const reason = (f: Partial<TaskFailure>) => JSON.stringify({ code: "USER_CODE_ERROR", message: "boom", retryable: true, taskId: "map-00003", ...f });

describe("failureOf", () => {
  it("numbers the last of the run's failed attempts from the attempt the run was given", () => {
    expect(failureOf(task(1), reason({ attempt: 1 }), 1).attempt).toBe(1);
    expect(failureOf(task(2), reason({ attempt: 4 }), 3).attempt).toBe(4); // given attempt 2, failed 3 times
  });

  it("keeps the worker's number when the queue's count lags it, never below the run's start", () => {
    expect(failureOf(task(3), reason({ attempt: 3 }), 0).attempt).toBe(3);
  });

  it("wraps a failure that is not a worker's (a task stalled past the queue's limit) as TASK_LOST, retryable", () => {
    expect(failureOf(task(2), "job stalled more than allowable limit", 1)).toEqual({
      code: "TASK_LOST", message: "job stalled more than allowable limit", retryable: true, taskId: "map-00003", attempt: 2,
    });
  });
});
