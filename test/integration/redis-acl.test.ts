/**
 * A worker connected as a Redis ACL user made from `sheaf acl` (the command the docs show): the
 * coordinator uses the default user, the worker `redis://sheafworker:<password>@…`. A word count
 * whose first map attempt throws (so the worker also writes the job's failed-attempt count) must
 * succeed with the oracle's counts, Redis's ACL LOG must show no command of the worker refused,
 * and that user must be refused FLUSHALL, CONFIG, KEYS, SCAN and any key or channel of another prefix.
 */
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "./cluster-harness.js";
import { FAULTY, params, redisOf, wordcountOracle, writeCorpus } from "./fault-kit.js";
import { outputText, parseTsv, Scratch } from "./helpers.js";

const s = new Scratch("redis-acl");
const cluster = new Cluster(s.path("wd"));
const USER = "sheafworker";
const PASSWORD = "w0rker-s3cret";
let aclUrl = "";
let worker: Redis;

/** Redis's ACL log entries for the worker's user (refused commands, keys and channels). */
async function refusals(): Promise<{ object: string; reason: string }[]> {
  const log = (await redisOf(cluster).call("ACL", "LOG", 128)) as unknown[]; // the default is the last 10
  return log
    .map((e) => (e instanceof Map ? Object.fromEntries(e) : Object.fromEntries((e as unknown[]).reduce<unknown[][]>((acc, v, i, a) => (i % 2 ? acc : [...acc, [v, a[i + 1]]]), []))))
    .filter((e) => e.username === USER)
    .map((e) => ({ object: String(e.object), reason: String(e.reason) }));
}

beforeAll(async () => {
  await cluster.startRedis();
  const printed = await cluster.run(["acl", "--prefix", "sheaf", "--user", USER, "--password", PASSWORD]);
  expect(printed.code, printed.output).toBe(0);
  const [acl, setuser, ...rest] = printed.stdout.trim().split(/\s+/);
  expect(`${acl} ${setuser}`).toBe("ACL SETUSER");
  expect(await redisOf(cluster).call("ACL", "SETUSER", ...rest)).toBe("OK");
  await redisOf(cluster).call("ACL", "LOG", "RESET");
  aclUrl = `redis://${USER}:${PASSWORD}@127.0.0.1:${cluster.port}`;
  // Another cluster's keys in the same Redis.
  await redisOf(cluster).hset("other:job:x", "state", "running");
  await redisOf(cluster).set("other:tasks:id", "41");
  await cluster.coordinator();
  await cluster.worker(2, ["--redis", aclUrl]);
  worker = new Redis(aclUrl, { maxRetriesPerRequest: 0, retryStrategy: () => null });
}, 60_000);

afterAll(async () => {
  worker?.disconnect();
  await cluster.stop();
  cluster.assertNoLeaks();
  s.cleanup();
});

describe("a worker as a Redis ACL user", () => {
  it("runs a job (with a retried attempt) to the oracle's output, and Redis refuses it nothing", async () => {
    const files = writeCorpus(s, "corpus", 3, 6_000, 40, 5);
    const out = s.fresh("out");
    const r = await cluster.run(["submit", FAULTY, "--input", ...files, "--output", out, "--split-size", "4k", "--partitions", "2", ...params({ throwAt: 0, throwAttempt: 1 }), "--wait", "-q"]);
    expect(r.code, r.output).toBe(0);
    const id = r.stdout.trim().split("\n")[0]!;
    const counts = new Map(parseTsv(outputText(out)).map(([w, n]) => [w!, Number(n)]));
    expect(counts).toEqual(wordcountOracle(files));
    // Written by the worker as the ACL user: the first attempt of each task that starts at offset 0 failed.
    expect(Number(await redisOf(cluster).hget(`sheaf:job:${id}:attempts`, "failedAttempts"))).toBeGreaterThanOrEqual(1);
    // CLIENT SETINFO (Redis 7.2+) is refused and ignored by the client: the rule leaves it out on purpose.
    // The worker's connections really are the ACL user's.
    const clients = String(await redisOf(cluster).call("CLIENT", "LIST")).split("\n").filter((l) => / name=sheaf-worker/.test(l));
    expect(clients.length).toBeGreaterThanOrEqual(2);
    for (const c of clients) expect(c).toMatch(new RegExp(`user=${USER}\\b`));
    const log = await refusals();
    console.log(`redis-acl: worker commands refused: ${JSON.stringify(log)}`);
    expect(log.filter((e) => e.object !== "client|setinfo")).toEqual([]);
  }, 90_000);

  it("cannot report a result through the event stream: forged completions are read from the queue entry and ignored", async () => {
    const files = writeCorpus(s, "corpus-forged", 4, 4_000, 30, 9);
    const out = s.fresh("out-forged");
    const sub = await cluster.run(["submit", FAULTY, "--input", ...files, "--output", out, "--split-size", "2k", "--partitions", "2", ...params({ taskMs: 400 })]);
    expect(sub.code, sub.output).toBe(0);
    const id = sub.stdout.trim().split("\n")[0]!;
    // As the red team did, as the worker user: "completed" for every map task, with an empty result
    // (no output, nothing emitted), while the real attempts still run.
    const forge = async () => {
      for (let t = 0; t < 12; t++) {
        const taskId = `map-${String(t).padStart(5, "0")}`;
        const value = { kind: "map", taskId, attempt: 0, counters: {}, stats: { recordsIn: 0, bytesIn: 0, recordsOut: 0, bytesOut: 0, millis: 1 } };
        await worker.xadd("sheaf:tasks:events", "*", "event", "completed", "jobId", `${id}.${taskId}`, "returnvalue", JSON.stringify(value));
      }
    };
    let state: string | null = null;
    let forged = 0;
    while (!["succeeded", "failed", "cancelled"].includes((state = await redisOf(cluster).hget(`sheaf:job:${id}`, "state")) ?? "")) {
      await forge();
      forged++;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(forged).toBeGreaterThanOrEqual(3);
    expect(state).toBe("succeeded");
    expect(new Map(parseTsv(outputText(out)).map(([w, n]) => [w!, Number(n)]))).toEqual(wordcountOracle(files));
  }, 90_000);

  it("may not flush, reconfigure or list Redis, nor touch another prefix", async () => {
    const refused = async (args: [string, ...(string | number)[]]) => {
      // A command is refused with NOPERM; a script's command, with an error naming the ACL check.
      await expect(worker.call(...args), args.join(" ")).rejects.toThrow(/NOPERM|user executing the script can't/);
    };
    expect(await worker.hget("sheaf:job:none", "state")).toBeNull(); // its own prefix: allowed
    await refused(["FLUSHALL"]);
    await refused(["FLUSHDB"]);
    await refused(["CONFIG", "GET", "maxmemory-policy"]);
    await refused(["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    await refused(["KEYS", "*"]);
    await refused(["SCAN", "0"]);
    await refused(["ACL", "LIST"]);
    await refused(["HGET", "other:job:x", "state"]);
    await refused(["HSET", "other:job:x", "state", "cancelled"]);
    await refused(["GET", "other:tasks:id"]);
    await refused(["DEL", "other:tasks:id"]);
    await refused(["SET", "sheaf:leader", "me"]); // the coordinator's lease, in its own prefix
    await refused(["HSET", "sheaf:run:x", "state", "failed"]);
    await refused(["PUBLISH", "sheaf:events", "cancel x"]);
    await refused(["EVAL", "return redis.call('GET', 'other:tasks:id')", 0]);
    // Coordinator-owned state (the red team's plan race, forged cancels, replays): read only.
    await refused(["HSETNX", "sheaf:job:some-job", "plan", "{}"]);
    await refused(["HSET", "sheaf:job:some-job", "cancel", "1"]);
    await refused(["HSET", "sheaf:job:some-job", "state", "running"]);
    await refused(["HDEL", "sheaf:job:some-job", "prepared"]);
    await refused(["HSET", "sheaf:job:some-job:committed", "map-00000", "{}"]);
    await refused(["RPUSH", "sheaf:schedule:s:queue", "0"]);
    expect(await worker.hincrby("sheaf:job:some-job:attempts", "failedAttempts", 1)).toBe(1); // its own count
    // No script of its own (a loop would hold every client BUSY), no other database.
    await refused(["EVAL", "local i = 0 while true do i = i + 1 end", 0]);
    await refused(["SCRIPT", "LOAD", "while true do end"]);
    await refused(["FCALL", "f", 0]);
    await refused(["SELECT", 1]);
    await refused(["MOVE", "sheaf:tasks:id", 1]);
    await refused(["COPY", "sheaf:job:some-job:attempts", "sheaf:tasks:copy", "DB", 1]);
    await refused(["SUBSCRIBE", "other:events"]);
    // The log read above does see refusals: these.
    const seen = (await refusals()).map((e) => e.object);
    console.log(`redis-acl: refusals logged after the probes: ${seen.join(", ")}`);
    expect(seen).toEqual(expect.arrayContaining(["flushall", "keys", "other:job:x", "other:events"]));
    // Nothing of the other cluster changed.
    expect(await redisOf(cluster).hget("other:job:x", "state")).toBe("running");
    expect(await redisOf(cluster).get("other:tasks:id")).toBe("41");
  });
});
