/**
 * A CLI command facing an unreachable Redis fails within 5 s with one line naming the server (its
 * password hidden) and the cause (issue "Nothing lost on a rerun", finding 8: it waited about 25 s,
 * then said "unexpected error: Connection is closed.").
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { freePort } from "./cluster-harness.js";
import { CLI, REPO } from "./helpers.js";

describe("the CLI and an unreachable Redis", () => {
  it("status, cancel and schedule list fail within 5 s, naming the URL without its password", async () => {
    const port = await freePort(); // nothing listens there
    for (const args of [["status"], ["cancel", "some-job"], ["schedule", "list"]]) {
      const started = Date.now();
      const r = spawnSync(process.execPath, [CLI, ...args, "--redis", `redis://admin:hunter22@127.0.0.1:${port}`], { cwd: REPO, encoding: "utf8", timeout: 30_000 });
      const ms = Date.now() - started;
      expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(1);
      expect(r.stderr.trim().split("\n")).toEqual([`sheaf: cannot reach Redis at redis://admin:***@127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`]);
      expect(ms, `${args.join(" ")} took ${ms} ms`).toBeLessThan(5_000);
    }
  }, 60_000);
});
