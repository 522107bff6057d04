/**
 * The red team's artifact race (time of check, time of use): with write access to the workdir only,
 * a loop swaps `artifacts/<sha>.mjs` between the real bundle and one with a payload (link + rename)
 * while the engine loads it. The hash check passed on the real bytes, then `import()` opened the path
 * again and ran the payload. Now only the verified bytes are imported: every load either refuses the
 * file or runs the real module, and the payload's marker never appears.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadTaskJob } from "../../core/artifact.js";

const dir = mkdtempSync(join(tmpdir(), "sheaf-artifact-race-"));
const workdir = join(dir, "workdir");
const marker = join(dir, "payload-ran");
mkdirSync(join(workdir, "artifacts"), { recursive: true });
const swappers: ChildProcess[] = [];
afterAll(() => {
  for (const s of swappers) s.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

const job = (name: string) => `export default { name: ${JSON.stringify(name)}, sheafJob: 1, input: { format: "lines" }, output: { format: "tsv" }, map() {} };\n`;
const payload = `import { appendFileSync } from "node:fs"; appendFileSync(${JSON.stringify(marker)}, "ran\\n");\n`;

/** A process swapping `path` between two files as fast as it can, until killed. */
function swapper(path: string, good: string, evil: string): ChildProcess {
  const code = `const fs = require("node:fs"); const [p, g, e] = process.argv.slice(1); let i = 0;
    process.send("go");
    for (;;) { const t = p + ".swap" + (i++ % 2); try { fs.unlinkSync(t); } catch {} fs.linkSync(i % 2 ? e : g, t); fs.renameSync(t, p); }`;
  const child = spawn(process.execPath, ["-e", code, path, good, evil], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
  swappers.push(child);
  return child;
}

describe("an artifact swapped while it is loaded", () => {
  it("is imported from the verified bytes only: the payload never runs", async () => {
    let loaded = 0;
    let refused = 0;
    for (let v = 0; v < 40; v++) {
      const real = job(`real-${v}`);
      const sha = createHash("sha256").update(real).digest("hex");
      const path = join(workdir, "artifacts", `${sha}.mjs`);
      const good = join(dir, `good-${v}.mjs`);
      const evil = join(dir, `evil-${v}.mjs`);
      writeFileSync(good, real);
      writeFileSync(evil, payload + real);
      writeFileSync(path, real);
      const child = swapper(path, good, evil);
      await new Promise((r) => child.once("message", r));
      try {
        const loadedJob = await loadTaskJob(workdir, sha, `v${v}`);
        expect(loadedJob.name).toBe(`real-${v}`);
        loaded++;
      } catch (err) {
        expect(String(err)).toMatch(/does not match its hash|cannot be read/);
        refused++;
      } finally {
        child.kill("SIGKILL");
      }
    }
    expect(existsSync(marker)).toBe(false);
    expect(loaded + refused).toBe(40);
    expect(loaded).toBeGreaterThan(0);
  }, 60_000);
});
