/**
 * Operating a cluster (issue 20, items 3, 4 and 6) on real processes: `sheaf workers` lists a
 * started worker and drops a killed one once its heartbeat expires; `status` and `submit --wait`
 * say when a job's tasks wait and no worker is live; a job's console output is prefixed on the
 * worker's stderr and `sheaf logs` reads it back from Redis per attempt, a failed attempt's error
 * naming the line of the user's job file; `status` shows each stage's start, end and duration, the
 * hosts, and the output's absolute path; log lines carry a timestamp and the job, task and attempt.
 */
import { writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { connect } from "../../runner/api.js";
import { Cluster, waitFor } from "./cluster-harness.js";
import { freshDir, params, stopClustersAfterEach, until } from "./fault-kit.js";
import { FIXTURE_JOBS, Scratch } from "./helpers.js";

const CHATTY = join(FIXTURE_JOBS, "chatty.ts");
const s = new Scratch("operate");
const clusters: Cluster[] = [];
stopClustersAfterEach(clusters, s);

function inputs(): string {
  const dir = freshDir(s, "in");
  writeFileSync(join(dir, "a.txt"), "a b c\n".repeat(20));
  writeFileSync(join(dir, "b.txt"), "b c d\n".repeat(20));
  return dir;
}

async function cluster(): Promise<Cluster> {
  const c = new Cluster(s.path("wd"));
  clusters.push(c);
  await c.startRedis();
  await c.coordinator();
  return c;
}

describe("live workers", () => {
  it("sheaf workers lists a started worker and drops it once killed; status says when tasks wait for none", async () => {
    const c = await cluster();
    expect((await c.run(["workers"])).stdout.trim()).toBe("no live workers");
    const w = await c.worker(2);
    const listed = (await c.run(["workers"])).stdout.split("\n");
    expect(listed[0]).toMatch(/^HOST\s+PID\s+THREADS\s+RUNNING\s+HEARTBEAT\s+MEMORY\s+VERSION/);
    const row = listed.find((l) => l.includes(` ${w.child.pid} `));
    expect(row, listed.join("\n")).toMatch(new RegExp(`^${hostname()}\\s+${w.child.pid}\\s+2\\s+0\\s+\\S+ m?s ago\\s+[\\d.]+ MB\\s+0\\.1\\.0`));

    w.child.kill("SIGKILL");
    await w.exited;
    // Its heartbeat expires after three intervals (6 s).
    await waitFor("the killed worker to drop", async () => ((await c.run(["workers"])).stdout.trim() === "no live workers" ? true : undefined), 15_000);

    const id = (await c.run(["submit", CHATTY, "--input", inputs(), "--output", s.fresh("out")])).stdout.trim();
    await waitFor("the warning", async () => {
      const status = (await c.run(["status", id])).stdout;
      return status.includes("workers   no live worker: its tasks wait in the queue") ? status : undefined;
    });
    expect((await c.run(["status", id])).stdout).toMatch(/tasks {5}2 running or queued/);
  }, 60_000);
});

describe("logs you can follow", () => {
  it("a job's console lines, per attempt, on the worker's stderr and from sheaf logs; status shows stages, hosts and the output", async () => {
    const c = await cluster();
    const w = await c.worker(1);
    const out = s.fresh("out");
    const sub = await c.run(["submit", CHATTY, "--input", inputs(), "--output", out, "--wait", "-q", ...params({ failFirst: 1 })]);
    expect(sub.code, sub.output).toBe(0);
    const id = sub.stdout.trim();

    // Prefixed with the job, task and attempt on the worker's stderr, with a timestamp.
    await until("the worker's lines", () => w.output().includes(`[${id} map-00000#2] hello from map-00000 attempt 2`), 10_000);
    expect(w.output()).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\[${id} map-00000#1\\] hello from map-00000 attempt 1$`, "m"));
    expect(w.output()).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z worker: task map-00000 started  job=${id} attempt=1$`, "m"));
    expect(w.output()).toMatch(new RegExp(`worker: task map-00000 failed \\(USER_CODE_ERROR\\): .* job=${id} attempt=1 at=\\S*chatty\\.ts:9:9$`, "m"));

    // From Redis, the right attempt only.
    const first = await c.run(["logs", id, "--task", "map-00000", "--attempt", "1"]);
    expect(first.code, first.output).toBe(0);
    expect(first.stdout).toContain("hello from map-00000 attempt 1\nstderr line of map-00000\n");
    expect(first.stdout).not.toContain("attempt 2");
    // The error names the line of the user's job file that threw (the bundle's source map), not the bundle's.
    expect(first.stdout).toMatch(/failed: USER_CODE_ERROR: map threw on the record at .* exploded in map-00000 \(at \S*test\/fixtures\/jobs\/chatty\.ts:9:9\)/);
    const second = await c.run(["logs", id, "--task", "map-00000", "--attempt", "2"]);
    expect(second.stdout).toContain("hello from map-00000 attempt 2");
    expect(second.stdout).not.toContain("attempt 1");
    const all = (await c.run(["logs", id])).stdout;
    for (const task of ["map-00000", "map-00001", "reduce-00000", "reduce-00003"]) expect(all).toContain(`hello from ${task} attempt`);
    expect((await c.run(["logs", id, "--task", "map-00009"])).stdout).toContain(`no output recorded for job ${id} task map-00009`);

    const status = (await c.run(["status", id])).stdout;
    expect(status).toMatch(/^started {3}\S+Z {3}ended \S+Z$/m);
    expect(status).toMatch(/^stages {4}map {5}\d\d:\d\d:[\d.]+ → \d\d:\d\d:[\d.]+ {2}[\d.]+ m?s {2}3 attempts, 1 failed$/m);
    expect(status).toMatch(/^ {10}reduce {2}\d\d:\d\d:[\d.]+ → \d\d:\d\d:[\d.]+ {2}[\d.]+ m?s {2}4 attempts$/m);
    expect(status).toContain(`hosts     ${hostname()} (7 attempts)`);
    expect(status).toContain(`output    ${out}\n`);
    expect(status).toMatch(/latest: map-00000 attempt 1: .*\(at \S*chatty\.ts:9:9\)/);

    // The same from the runner API.
    const api = await connect({ redis: c.url });
    try {
      expect((await api.workers()).map((x) => x.pid)).toEqual([w.child.pid]);
      const logs = await api.logs(id, { task: "map-00000" });
      expect(logs.map((l) => [l.attempt, l.lines[0], l.where !== undefined])).toEqual([[1, "hello from map-00000 attempt 1", true], [2, "hello from map-00000 attempt 2", false]]);
      const timeline = await api.timeline(id);
      expect(timeline).toHaveLength(7);
      expect(timeline.filter((t) => t.outcome !== "committed").map((t) => [t.taskId, t.attempt, t.outcome, t.code])).toEqual([["map-00000", 1, "failed", "USER_CODE_ERROR"]]);
      // Where each ran, as its worker said in the result or failure: the worker's heartbeat id and a thread.
      const [beat] = await api.workers();
      for (const t of timeline) expect([t.host, t.worker, typeof t.thread]).toEqual([hostname(), beat!.id, "number"]);
    } finally {
      await api.close();
    }
  }, 60_000);

  it("--log-format json: one JSON object per line, with time, job, task and attempt", async () => {
    const c = new Cluster(s.path("wd"));
    clusters.push(c);
    await c.startRedis();
    const coordinator = c.spawn(["coordinator", "--lease", "2000", "--log-format", "json"]);
    const w = c.spawn(["worker", "--threads", "1", "--log-format", "json"]);
    await until("both ready", () => coordinator.output().includes('"msg":"leader (epoch') && w.output().includes('"msg":"ready:'), 15_000);
    const sub = await c.run(["submit", CHATTY, "--input", inputs(), "--output", s.fresh("out"), "--wait", "-q"]);
    expect(sub.code, sub.output).toBe(0);
    const id = sub.stdout.trim();
    await until("the worker's lines", () => w.output().includes(`hello from reduce-00003`), 10_000);
    const lines = w.output().trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const l of lines) expect(typeof l.time === "string" && !Number.isNaN(Date.parse(l.time as string)), JSON.stringify(l)).toBe(true);
    expect(lines).toContainEqual(expect.objectContaining({ component: "job", msg: "hello from map-00001 attempt 1", job: id, task: "map-00001", attempt: 1, stream: "log" }));
    expect(lines).toContainEqual(expect.objectContaining({ component: "worker", msg: "task map-00001 started", job: id, task: "map-00001", attempt: 1 }));
    await until("the coordinator's line", () => coordinator.output().includes(`"msg":"job ${id} succeeded`), 10_000);
    const coordLines = coordinator.output().trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(coordLines).toContainEqual(expect.objectContaining({ component: "coordinator", job: id, msg: expect.stringMatching(/^job .* succeeded in \d+ ms$/) }));
  }, 60_000);
});
