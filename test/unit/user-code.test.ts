/**
 * A full disk met while the engine writes what map emitted is no record's fault (issue "Found by
 * fault injection", finding 5: ENOSPC was reported as "map threw on the record at data/part2.txt
 * byte 329590" and could be skipped as a bad record): it becomes NO_SPACE naming the path, retryable,
 * and not a UserCodeError (so skipBadRecords never counts it). Errors of the job's own code still are.
 */
import { describe, expect, it } from "vitest";
import { SheafError, UserCodeError } from "../../core/errors.js";
import { wrapUserError } from "../../worker/user-code.js";

const at = { file: "data/part2.txt", offset: 329590 };

describe("wrapUserError", () => {
  it("turns a full disk into NO_SPACE naming the path, not the record", () => {
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", path: "/scratch/jobs/j/map-00003/attempt-1/spill-2" });
    const e = wrapUserError("map", at, enospc);
    expect(e).toBeInstanceOf(SheafError);
    expect(e).not.toBeInstanceOf(UserCodeError);
    expect((e as SheafError).code).toBe("NO_SPACE");
    expect((e as SheafError).retryable).toBe(true);
    expect(e.message).toBe("no space left on /scratch/jobs/j/map-00003/attempt-1/spill-2 (disk full) while the task wrote its output and spills");
    const quota = wrapUserError("reduce", undefined, Object.assign(new Error("EDQUOT"), { code: "EDQUOT" }));
    expect(quota.message).toBe("no space left on the device (disk quota exceeded) while the task wrote its output");
  });

  it("still blames the record for the job's own errors", () => {
    const e = wrapUserError("map", at, new TypeError("x is undefined"));
    expect(e).toBeInstanceOf(UserCodeError);
    expect(e.message).toBe("map threw on the record at data/part2.txt byte 329590: x is undefined");
  });
});
