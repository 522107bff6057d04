/**
 * One writer per output, under contention: takers racing over a dead holder's lock must leave
 * exactly one of them holding it (each removed the stale lock unconditionally, so a late one could
 * remove the winner's fresh lock and take the output too).
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { processAlive, takeOutput, writerLockPath, type WriterLock } from "../../core/output-writer-lock.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("takeOutput", () => {
  it("of many takers racing over a dead holder's lock, exactly one wins; the others are refused naming it", async () => {
    for (let round = 0; round < 20; round++) {
      const dir = mkdtempSync(join(tmpdir(), "sheaf-lock-"));
      dirs.push(dir);
      const out = join(dir, "out");
      writeFileSync(writerLockPath(out), JSON.stringify({ jobId: "dead", by: "run", pid: 2 ** 22 + 17, host: hostname(), since: 1 }));
      // An asynchronous liveness check, as a coordinator's (it asks Redis): the takers interleave there.
      const alive = async (h: WriterLock) => (await new Promise((r) => setImmediate(r)), processAlive(h) && h.jobId !== "dead");
      const outcomes = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => takeOutput(out, `job-${i}`, "cluster", alive)));
      const won = outcomes.filter((o) => o.status === "fulfilled");
      expect(won, `round ${round}`).toHaveLength(1);
      for (const o of outcomes) if (o.status === "rejected") expect(String(o.reason)).toMatch(/is being written by job job-\d/);
      expect(readdirSync(dir)).toEqual([".out.sheaf-writer"]); // no draft or moved-aside lock left
    }
  });
});
