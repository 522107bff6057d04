import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { continueOrForget } from "../../worker/checkpoint.js";

const dir = mkdtempSync(join(tmpdir(), "sheaf-ckpt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a resume that cannot use its checkpoint starts clean", () => {
  it("continues a part from the checkpoint's prefix when the file is there", () => {
    const ckpt = join(dir, "a");
    mkdirSync(ckpt, { recursive: true });
    writeFileSync(join(ckpt, "checkpoint.json"), "{}");
    const from = join(ckpt, "part-kept");
    writeFileSync(from, "one\ntwo\nthree, half-writ");
    expect(continueOrForget(ckpt, { path: from, bytes: 8, records: 2 }, join(dir, "a-part"))).toBe(true);
    expect(readFileSync(join(dir, "a-part"), "utf8")).toBe("one\ntwo\n");
    expect(existsSync(join(ckpt, "checkpoint.json"))).toBe(true);
  });

  it("forgets the checkpoint when its part file is gone, so that no later attempt fails the same way", () => {
    const ckpt = join(dir, "b");
    mkdirSync(ckpt, { recursive: true });
    writeFileSync(join(ckpt, "checkpoint.json"), "{}");
    expect(continueOrForget(ckpt, { path: join(ckpt, "removed-by-another-attempt"), bytes: 8, records: 2 }, join(dir, "b-part"))).toBe(false);
    expect(existsSync(join(ckpt, "checkpoint.json"))).toBe(false);
    expect(existsSync(join(dir, "b-part"))).toBe(false);
  });
});
