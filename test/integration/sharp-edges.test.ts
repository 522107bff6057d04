/**
 * Issue 17, the sharp edges of what `sheaf run` prints: keys as the job wrote them, a failure that
 * names the job once. Each test failed on the code before its fix.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FIXTURE_JOBS, Scratch, run } from "./helpers.js";

const s = new Scratch("sharp-edges");
afterAll(() => s.cleanup());

describe("sheaf run prints", () => {
  it("a bigint key as its digits when reduce throws on it", () => {
    const input = s.write("ids.csv", "id,amount\n100003,1.5\n100004,2\n100003,3\n");
    const r = run({ job: join(FIXTURE_JOBS, "bigint-keys.ts"), inputs: [input], output: s.fresh(), workdir: s.path("wd"), params: { bad: "100003" }, maxAttempts: 1 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("reduce threw on key 100003: cannot reduce this id");
    expect(r.stderr).not.toContain("100003n");
  });
});
