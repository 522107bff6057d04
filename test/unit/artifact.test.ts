import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadTaskJob } from "../../core/artifact.js";

const workdir = mkdtempSync(join(tmpdir(), "sheaf-artifact-"));
afterAll(() => rmSync(workdir, { recursive: true, force: true }));

/** A job module as the bundler writes it (the job marker is what isJob checks). */
const JOB = (name: string) => `export default { name: ${JSON.stringify(name)}, sheafJob: 1, input: { format: "lines" }, output: { format: "tsv" }, map() {} };\n`;

function store(code: string, as?: string): string {
  const sha = createHash("sha256").update(code).digest("hex");
  mkdirSync(join(workdir, "artifacts"), { recursive: true });
  writeFileSync(join(workdir, "artifacts", `${as ?? sha}.mjs`), code);
  return as ?? sha;
}

describe("task artifacts are named by hash and checked before import", () => {
  it("loads an artifact whose content has its hash", async () => {
    const sha = store(JOB("good"));
    expect((await loadTaskJob(workdir, sha, "good")).name).toBe("good");
  });

  it("refuses an artifact whose content was replaced, naming the path and the hash it holds", async () => {
    const sha = createHash("sha256").update(JOB("original")).digest("hex");
    store(JOB("tampered"), sha);
    await expect(loadTaskJob(workdir, sha, "original")).rejects.toThrow(/artifacts\/[0-9a-f]{64}\.mjs does not match its hash \(it holds [0-9a-f]{64}\)/);
  });

  it("refuses a name that is not a sha256 (no free paths from a task message)", async () => {
    await expect(loadTaskJob(workdir, "../../etc/passwd", "x")).rejects.toThrow(/is not a sha256/);
    await expect(loadTaskJob(workdir, "a".repeat(64), "x")).rejects.toThrow(/cannot be read/);
  });
});
