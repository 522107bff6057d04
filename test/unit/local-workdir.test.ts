/** Paths below a store workdir, as each host keeps them; and what confinement makes of object locations. */
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { localWorkdir, onThisHost } from "../../core/store/local-workdir.js";
import { checkUnder } from "../../core/security/confine.js";
import { absoluteLocation, artifactPath, jobScratchDir, objectOutputScratch } from "../../core/storage.js";
import type { JobId } from "../../core/ids.js";

const W = "s3://bucket-1/team/sheaf";

describe("a workdir in an object store", () => {
  it("names its artifacts and scratch as keys, never folding s3:// into s3:/", () => {
    expect(artifactPath(`${W}/`, "a".repeat(64))).toBe(`${W}/artifacts/${"a".repeat(64)}.mjs`);
    const scratch = jobScratchDir(absoluteLocation(`${W}//`), "j-1" as JobId);
    expect(scratch).toBe(`${W}/jobs/j-1`);
    expect(objectOutputScratch(scratch)).toBe(`${W}/jobs/j-1/output`);
    expect(jobScratchDir("/srv/wd", "j-1" as JobId)).toBe(join("/srv/wd", "jobs", "j-1"));
  });

  it("stands on each host for a local copy under the OS temp folder, one per workdir", () => {
    const copy = localWorkdir(W);
    expect(copy.startsWith(tmpdir() + sep)).toBe(true);
    expect(localWorkdir(`${W}2`)).not.toBe(copy);
    expect(localWorkdir("/srv/wd")).toBe("/srv/wd");
    expect(onThisHost(W, `${W}/jobs/j-1/reduce-inputs-3-0000abcd.json`)).toBe(join(copy, "jobs", "j-1", "reduce-inputs-3-0000abcd.json"));
    // Not below it: unchanged (an output folder elsewhere); a folder workdir: unchanged.
    expect(onThisHost(W, "/data/out")).toBe("/data/out");
    expect(onThisHost("/srv/wd", "/srv/wd/jobs/x")).toBe("/srv/wd/jobs/x");
  });

  it("refuses a key that would climb out of the local copy", () => {
    for (const key of [`${W}/jobs/../../etc/passwd`, `${W}/jobs//x`, `${W}/./x`]) {
      expect(() => onThisHost(W, key)).toThrow(/not a plain key below the workdir/);
    }
  });

  it("confines a location below a prefix by its keys", () => {
    expect(() => checkUnder(`${W}/jobs/j-1`, `${W}/jobs/j-1/reduce-inputs-1-00000000.json`, "list")).not.toThrow();
    for (const bad of [`${W}/jobs/j-10/x`, `${W}/jobs/j-1/../j-2/x`, `${W}/jobs/j-1`, "/tmp/x", `s3://other/jobs/j-1/x`]) {
      expect(() => checkUnder(`${W}/jobs/j-1`, bad, "list"), bad).toThrow(/PATH_NOT_ALLOWED|outside|must be/);
    }
  });
});
