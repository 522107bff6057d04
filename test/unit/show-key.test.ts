/** Issue 17: a key is shown as the job wrote it: a bigint as its digits (`100003`, not `100003n`), a string quoted. */
import { describe, expect, it } from "vitest";
import { showKey } from "../../core/show.js";
import { asRow } from "../../core/formats/schema.js";
import { displayKey, wrapUserError } from "../../worker/user-code.js";

describe("keys in messages", () => {
  it("shows bigints as digits, strings quoted, and arrays of parts", () => {
    expect(showKey(100003n)).toBe("100003");
    expect(showKey(7)).toBe("7");
    expect(showKey("7")).toBe('"7"');
    expect(showKey(["fr", 2026n, true])).toBe('["fr",2026,true]');
    expect(showKey("x".repeat(300))).toHaveLength(201);
  });

  it("a reduce that throws on a bigint key names it without the n", () => {
    const err = wrapUserError("reduce", { file: "", offset: 0, key: displayKey(100003n) }, new Error("bad"));
    expect(err.message).toBe("reduce threw on key 100003: bad");
  });

  it("a row that is not a row names its bigint key without the n", () => {
    expect(() => asRow(100003n, 5)).toThrow(/the record with key 100003$/);
  });
});
