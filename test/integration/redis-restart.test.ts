/**
 * Redis restarted under a running job (from its append-only file): coordinator, workers and the
 * waiting CLI reconnect, log that they did, and the job finishes with the oracle's output.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Cluster } from "./cluster-harness.js";
import { FIXTURE_JOBS, outputText, Scratch, textLines } from "./helpers.js";

const scratch = new Scratch("redis-restart");
const dataDir = scratch.path("redis-data");
mkdirSync(dataDir);
const cluster = new Cluster(scratch.path("workdir"), ["--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", dataDir]);
const lines = Array.from({ length: 600 }, (_, i) => `line ${i} ${"x".repeat(i % 17)}`);
let input = "";

beforeAll(async () => {
  input = scratch.write("input.txt", lines.join("\n") + "\n");
  await cluster.startRedis();
});

afterAll(async () => {
  await cluster.stop();
  cluster.assertNoLeaks();
  scratch.cleanup();
});

it("a job survives a Redis restart, and every process says it lost and regained Redis, once, without a stack trace", async () => {
  const coordinator = await cluster.coordinator();
  const worker = await cluster.worker(2);
  const out = scratch.fresh("out");
  const waiting = cluster.spawn(["submit", join(FIXTURE_JOBS, "slow.ts"), "--input", input, "--output", out, "--split-size", "1k", "--param", "taskMs=250", "--wait", "-q"]);
  const redis = cluster.client();
  let id = "";
  waiting.child.stdout!.on("data", (d) => (id ||= String(d).trim()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const p = id ? await redis.hget(`sheaf:job:${id}`, "progress") : null;
    if (p && JSON.parse(p).mapsDone >= 3) break;
    if (Date.now() > deadline) throw new Error("job did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  await cluster.killRedis("SIGKILL");
  await new Promise((r) => setTimeout(r, 1000));
  await cluster.startRedis();

  expect(await waiting.exited, waiting.output()).toBe(0);
  expect(textLines(outputText(out))).toEqual(lines);
  expect(coordinator.output()).toContain("redis: reconnected");
  expect(worker.output()).toContain("redis: reconnected");
  // The outage is said once per connection, in words: no bare stack trace (BullMQ prints one for
  // each error nobody listens to), and not once per reconnection attempt.
  for (const p of [coordinator, worker]) {
    expect(p.output()).not.toMatch(/^\s+at /m);
    expect(p.output().match(/ECONNREFUSED/g)?.length ?? 0, p.output()).toBeLessThanOrEqual(2);
  }
});
