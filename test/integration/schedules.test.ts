/**
 * Schedules on a real cluster (redis-server, coordinator and worker processes, the CLI as a child
 * process): `sheaf schedule add|list|pause|resume|remove|backfill`. A tiny job module written into a
 * scratch folder copies its one-line input to `-o "<dir>/{time}"`, so every run leaves a folder
 * named by its due time; `--param sleepMs=N` makes it slow (its setup blocks the task's thread).
 *
 * What a run did is read from Redis, never from timing alone: the run records
 * (`sheaf:run:<id>`: spec.schedule.due, submittedAt, startedAt, finishedAt, state), the schedule's
 * `:fired` hash (due time → run id, '' for a due time skipped or queued), its `:history` list, and
 * the jobs' records (`spec.run`: the run a stage's job belongs to).
 *
 * Most tests share one cluster and run one schedule at a time; the failover test has its own
 * cluster with a standby coordinator. Like the other integration tests, nothing here imports
 * engine code: due times and their `{time}` names are computed with plain Date arithmetic.
 *
 * Two former engine bugs are pinned here as regressions (see the "Regression" comments): interval
 * due times derived from the wrong instant, and a run that had ended still blocking its schedule
 * until the coordinator's next 1 s poll.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "./cluster-harness.js";
import { delay, params, redisOf, startCluster, stopCluster, until } from "./fault-kit.js";
import { Scratch, outputText } from "./helpers.js";

const s = new Scratch("schedules");

/** Copies its input; `sleepMs` blocks the task's setup (so a run lasts that long at least). */
const JOB_SOURCE = `import { defineJob, lines } from "sheaf";

export default defineJob({
  name: "tick",
  input: lines(),
  setup(ctx) {
    const ms = Number(ctx.params.sleepMs ?? 0);
    if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  },
  map(line: string, emit) {
    emit(line);
  },
});
`;

let JOB = "";
let INPUT = "";
let cluster: Cluster;
/** Schedules a test added and has not removed yet: removed after each test, so a failed test does not disturb the next. */
const live = new Map<Cluster, Set<string>>();
const extraClusters: Cluster[] = [];

beforeAll(async () => {
  JOB = s.write("job/tick.ts", JOB_SOURCE);
  INPUT = s.write("in/one.txt", "hello\n");
  // These tests backfill due times months old and read their fired due times back: a retention
  // sweep (every minute) would forget them past --keep-for (7 days) in the middle of a test.
  const c = await startCluster(s.path("wd"), { workers: 2, threads: 2, coordinatorArgs: ["--keep-for", "3650d"] });
  cluster = c.cluster;
});

afterEach(async () => {
  for (const [c, names] of live) {
    for (const name of names) await c.run(["schedule", "remove", name]);
    names.clear();
  }
  for (const c of extraClusters.splice(0)) await stopCluster(c);
});

afterAll(async () => {
  if (cluster) await stopCluster(cluster);
  s.cleanup();
});

// ---------------------------------------------------------------------------------------------
// Reading what the schedules did

interface RunInfo {
  id: string;
  due: number;
  state: string;
  submittedAt: number;
  startedAt: number;
  finishedAt: number;
  error?: string;
}

interface Event {
  due: number;
  outcome: string;
  run?: string;
  at: number;
  note?: string;
}

/** `{time}` of a due time (UTC): YYYY-MM-DDTHH-mm-ss. */
const timeName = (due: number): string => new Date(due).toISOString().slice(0, 19).replace(/:/g, "-");
const iso = (t: number): string => new Date(t).toISOString();

async function cli(c: Cluster, args: string[]): Promise<string> {
  const r = await c.run(args);
  if (r.code !== 0) throw new Error(`sheaf ${args.join(" ")} exited ${r.code}:\n${r.output}`);
  return r.stdout;
}

async function add(c: Cluster, name: string, out: string, args: string[]): Promise<number> {
  live.get(c) ?? live.set(c, new Set());
  live.get(c)!.add(name);
  const stdout = await cli(c, ["schedule", "add", name, JOB, "-i", INPUT, "-o", `${out}/{time}`, ...args]);
  expect(stdout).toBe(`schedule ${name} added\n`);
  return Date.now();
}

async function remove(c: Cluster, name: string): Promise<void> {
  expect(await cli(c, ["schedule", "remove", name])).toBe(`schedule ${name} removed\n`);
  live.get(c)?.delete(name);
}

/** The schedule's runs, by due time. */
async function runsOf(c: Cluster, name: string): Promise<RunInfo[]> {
  const redis = redisOf(c);
  const runs: RunInfo[] = [];
  for (const id of await redis.zrange("sheaf:runs", "0", "-1")) {
    const h = await redis.hgetall(`sheaf:run:${id}`);
    const spec = JSON.parse(h.spec!) as { schedule?: { name: string; due: number }; submittedAt: number };
    if (spec.schedule?.name !== name) continue;
    runs.push({
      id, due: spec.schedule.due, state: h.state!, submittedAt: spec.submittedAt,
      startedAt: Number(h.startedAt ?? NaN), finishedAt: Number(h.finishedAt ?? NaN), error: h.error,
    });
  }
  return runs.sort((a, b) => a.due - b.due);
}

async function historyOf(c: Cluster, name: string): Promise<Event[]> {
  return (await redisOf(c).lrange(`sheaf:schedule:${name}:history`, 0, -1)).map((e) => JSON.parse(e) as Event).reverse(); // oldest first
}

async function firedOf(c: Cluster, name: string): Promise<Map<number, string>> {
  const h = await redisOf(c).hgetall(`sheaf:schedule:${name}:fired`);
  return new Map(Object.entries(h).map(([due, run]) => [Number(due), run]));
}

/** The schedule has no run going and nothing queued, and every run of it has ended. */
async function settled(c: Cluster, name: string, timeoutMs = 30_000): Promise<void> {
  const redis = redisOf(c);
  await until(`schedule ${name} to settle`, async () => {
    const [running, queued] = await Promise.all([redis.hget(`sheaf:schedule:${name}`, "running"), redis.llen(`sheaf:schedule:${name}:queue`)]);
    if (running || queued) return false;
    return (await runsOf(c, name)).every((r) => ["succeeded", "failed", "cancelled"].includes(r.state));
  }, timeoutMs, 100);
}

/** Output folders under `out` (one per run, named by {time}). */
const outputs = (out: string): string[] => (existsSync(out) ? readdirSync(out).sort() : []);

/** Every run succeeded, wrote its folder (named by its due time) with the input copied, and no two ran at once. */
function expectRunsOk(runs: RunInfo[], out: string): void {
  for (const r of runs) {
    expect(r.state, `${r.id}: ${r.error ?? ""}`).toBe("succeeded");
    expect(r.id).toBe(`${r.id.split(".run-")[0]}.run-${iso(r.due).replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}`);
    expect(existsSync(join(out, timeName(r.due), "_SUCCESS")), `${timeName(r.due)}/_SUCCESS`).toBe(true);
    expect(outputText(join(out, timeName(r.due)))).toBe("hello\n");
  }
  expectNoOverlap(runs);
}

/** Runs of one schedule never overlap: each starts after the previous one (by start time) finished. */
function expectNoOverlap(runs: RunInfo[]): void {
  const byStart = [...runs].sort((a, b) => a.startedAt - b.startedAt);
  for (let i = 1; i < byStart.length; i++) {
    const [prev, next] = [byStart[i - 1]!, byStart[i]!];
    expect(next.startedAt, `${next.id} started at ${iso(next.startedAt)} while ${prev.id} ran until ${iso(prev.finishedAt)}`).toBeGreaterThanOrEqual(prev.finishedAt);
  }
}

/** Due times are distinct multiples of `everyMs`, each one interval after the previous (no gap, no duplicate). */
function expectConsecutive(dues: number[], everyMs: number, history: Event[] = []): void {
  const said = history.map((e) => `  ${iso(e.due)} ${e.outcome} at due+${e.at - e.due} ms${e.note ? ` (${e.note})` : ""}`).join("\n");
  expect(new Set(dues).size, `duplicate due times; history:\n${said}`).toBe(dues.length);
  for (const d of dues) expect(d % everyMs, `${iso(d)} is not a multiple of ${everyMs} ms`).toBe(0);
  const sorted = [...dues].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!, `gap after ${iso(sorted[i - 1]!)}; history:\n${said}`).toBe(everyMs);
}

// ---------------------------------------------------------------------------------------------

describe("an interval schedule", () => {
  /** What the --every 2s test saw, for the timing test after it. */
  let every2: { runs: RunInfo[]; createdAt: number } | undefined;

  it("--every 2s: one run per due time, consecutive multiples of 2 s, none twice, never two at once", async () => {
    const name = "every2";
    const out = s.path("out-every2");
    await add(cluster, name, out, ["--every", "2s"]);
    const { createdAt } = JSON.parse((await redisOf(cluster).hget(`sheaf:schedule:${name}`, "spec"))!) as { createdAt: number };
    await delay(9_000);
    expect(await cli(cluster, ["schedule", "pause", name])).toBe(`schedule ${name} paused\n`);
    await settled(cluster, name);

    const runs = await runsOf(cluster, name);
    const fired = await firedOf(cluster, name);
    const history = await historyOf(cluster, name);
    const dues = runs.map((r) => r.due);
    every2 = { runs, createdAt };
    expect(runs.length, `runs in 9 s: ${dues.map(iso).join(", ")}`).toBeGreaterThanOrEqual(3);
    expectConsecutive(dues, 2000, history);
    expectRunsOk(runs, out);
    // One folder per run, named by its due time; the fired hash holds exactly these due times, each with its run.
    expect(outputs(out)).toEqual(dues.map(timeName));
    expect(new Map([...fired].sort((a, b) => a[0] - b[0]))).toEqual(new Map(runs.map((r) => [r.due, r.id])));
    // The history: started then succeeded, once per due time; nothing skipped (a run takes well under 2 s).
    expect(history.map((e) => `${iso(e.due)} ${e.outcome}`)).toEqual(dues.flatMap((d) => [`${iso(d)} started`, `${iso(d)} succeeded`]));

    // `status` shows the runs as the schedule's; `schedule list` shows it paused, with its last events.
    const status = await cli(cluster, ["status"]);
    for (const r of runs) expect(status).toMatch(new RegExp(`^${r.id.replace(/\./g, "\\.")}\\s+tick \\(schedule ${name}\\)\\s+succeeded`, "m"));
    const list = await cli(cluster, ["schedule", "list"]);
    expect(list).toContain(`${name}  paused  every 2s  overlap skip  next -  (${JOB})`);
    expect(list).toContain(`  ${iso(dues.at(-1)!)}  succeeded  ${runs.at(-1)!.id}`);
    await remove(cluster, name);
  });

  // Regression (an engine bug, fixed): an interval schedule's runs were fired up to an interval
  // away from their due times, the first even before the schedule was added. The due time was
  // taken from when BullMQ created the wake-up (the previous one's time), not from the wake-up's id
  // (`repeat:<name>:<millis>`), and the job scheduler was registered without the offset that makes
  // BullMQ fire at multiples of the interval; near half an interval's phase a due time was never fired.
  it("--every 2s: each run is fired at its due time (not before it, not an interval late), the first after the schedule was added", () => {
    if (!every2) throw new Error("needs the --every 2s test's runs");
    const { runs, createdAt } = every2;
    const when = runs.map((r) => `${r.id}: submitted ${r.submittedAt - r.due} ms after its due time`).join("\n");
    expect(runs[0]!.due, `first due time ${iso(runs[0]!.due)}, schedule added ${iso(createdAt)}`).toBeGreaterThan(createdAt);
    for (const r of runs) {
      expect(r.submittedAt - r.due, when).toBeGreaterThanOrEqual(0);
      expect(r.submittedAt - r.due, when).toBeLessThan(1000);
    }
  });
});

describe("overlap: a run that lasts longer than the interval", () => {
  it("skip: due times that come while a run is going are recorded as skipped; runs never overlap", async () => {
    const name = "skip";
    const out = s.path("out-skip");
    await add(cluster, name, out, ["--every", "1s", "--overlap", "skip", ...params({ sleepMs: 2500 })]);
    await delay(7_000);
    await cli(cluster, ["schedule", "pause", name]);
    await settled(cluster, name);

    const runs = await runsOf(cluster, name);
    const fired = await firedOf(cluster, name);
    const history = await historyOf(cluster, name);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expectRunsOk(runs, out);
    expect(outputs(out)).toEqual(runs.map((r) => timeName(r.due)));

    const skipped = history.filter((e) => e.outcome === "skipped");
    expect(skipped.length, "skipped due times in the history").toBeGreaterThanOrEqual(2);
    const byId = new Map(runs.map((r) => [r.id, r]));
    for (const e of skipped) {
      // The skip names the run in the way, one of this schedule's, started before the skip.
      const m = /^run (\S+) still running$/.exec(e.note ?? "");
      expect(m, `note of skipped ${iso(e.due)}: ${e.note}`).not.toBeNull();
      const blocker = byId.get(m![1]!);
      expect(blocker, `skipped ${iso(e.due)} names ${m![1]}`).toBeDefined();
      expect(blocker!.startedAt).toBeLessThanOrEqual(e.at);
      // A skipped due time has no run and no folder; the fired hash marks it ('' = not run, so a backfill may run it).
      expect(fired.get(e.due)).toBe("");
      expect(runs.some((r) => r.due === e.due)).toBe(false);
    }
    // Every due time from the first to the last was either run or skipped, once.
    const dues = [...fired.keys()];
    expectConsecutive(dues, 1000, history);
    expect(dues.length).toBe(runs.length + skipped.length);
    // Nothing was queued under skip.
    expect(history.some((e) => e.outcome === "queued")).toBe(false);

    // Regression (an engine bug, fixed): a due time was skipped although the run it named had
    // already finished, because only the scheduler's tick cleared a schedule's running run and the
    // tick ran on the 1 s poll, not on the "finished <run>" event; FIRE now also ends a running run
    // it finds finished.
    const stale = skipped
      .filter((e) => byId.get(/^run (\S+)/.exec(e.note!)![1]!)!.finishedAt <= e.at)
      .map((e) => `${iso(e.due)} skipped at ${iso(e.at)}, ${e.note}, but it finished at ${iso(byId.get(/^run (\S+)/.exec(e.note!)![1]!)!.finishedAt)}`);
    expect(stale, "due times skipped for a run that had already finished").toEqual([]);
    await remove(cluster, name);
  });

  it("queue: every due time runs, one at a time, oldest first", async () => {
    const name = "queue";
    const out = s.path("out-queue");
    await add(cluster, name, out, ["--every", "1s", "--overlap", "queue", ...params({ sleepMs: 1200 })]);
    await delay(4_000);
    // Pause, not remove: pausing stops the wake-ups and keeps the queue, which still drains (remove
    // deletes the queue with the schedule: queued due times would never run).
    await cli(cluster, ["schedule", "pause", name]);
    const queuedAtPause = await redisOf(cluster).lrange(`sheaf:schedule:${name}:queue`, 0, -1);
    expect(queuedAtPause.length, "due times queued when paused").toBeGreaterThanOrEqual(1);
    await settled(cluster, name, 40_000);

    const runs = await runsOf(cluster, name);
    const fired = await firedOf(cluster, name);
    const history = await historyOf(cluster, name);
    const dues = runs.map((r) => r.due);
    expectRunsOk(runs, out);
    expectConsecutive(dues, 1000, history);
    expect(outputs(out)).toEqual(dues.map(timeName));
    // Every due time that fired ran: the fired hash maps each one to its run, none left '' (skipped).
    expect(new Map([...fired].sort((a, b) => a[0] - b[0]))).toEqual(new Map(runs.map((r) => [r.due, r.id])));
    expect(history.some((e) => e.outcome === "skipped")).toBe(false);
    const queued = history.filter((e) => e.outcome === "queued").map((e) => e.due);
    expect(queued.length).toBeGreaterThanOrEqual(2);
    for (const d of queuedAtPause) expect(queued).toContain(Number(d));
    // Oldest first, one at a time: in due-time order, each run starts after the previous one finished.
    for (let i = 1; i < runs.length; i++) {
      expect(runs[i]!.startedAt, `${runs[i]!.id} started before ${runs[i - 1]!.id} finished`).toBeGreaterThanOrEqual(runs[i - 1]!.finishedAt);
    }
    await remove(cluster, name);
  });
});

describe("pause, resume, remove", () => {
  it("pause stops the runs, resume starts them again, remove stops them and drops the schedule from the list", async () => {
    const name = "pr";
    const out = s.path("out-pr");
    const count = async () => (await runsOf(cluster, name)).length;
    await add(cluster, name, out, ["--every", "1s"]);
    await until("a first run", async () => (await count()) >= 2, 10_000, 100);

    await cli(cluster, ["schedule", "pause", name]);
    await settled(cluster, name);
    const atPause = await count();
    const repeatKey = "sheaf:schedules:repeat";
    expect(await redisOf(cluster).zscore(repeatKey, name), "BullMQ job scheduler after pause").toBeNull();
    expect(await cli(cluster, ["schedule", "list"])).toContain(`${name}  paused  every 1s`);
    await delay(3_500);
    expect(await count(), "runs while paused").toBe(atPause);

    expect(await cli(cluster, ["schedule", "resume", name])).toBe(`schedule ${name} resumed\n`);
    expect(await redisOf(cluster).zscore(repeatKey, name), "BullMQ job scheduler after resume").not.toBeNull();
    expect(await cli(cluster, ["schedule", "list"])).toMatch(new RegExp(`^${name}  active  every 1s  overlap skip  next \\d{4}-`, "m"));
    await until("runs after resume", async () => (await count()) >= atPause + 2, 10_000, 100);

    await remove(cluster, name);
    await until("the last run to end", async () => (await runsOf(cluster, name)).every((r) => r.state === "succeeded"), 15_000, 100);
    const atRemove = await count();
    expect(await redisOf(cluster).zscore(repeatKey, name), "BullMQ job scheduler after remove").toBeNull();
    expect(await redisOf(cluster).exists(`sheaf:schedule:${name}`, `sheaf:schedule:${name}:fired`, `sheaf:schedule:${name}:history`)).toBe(0);
    expect(await cli(cluster, ["schedule", "list"])).not.toMatch(new RegExp(`^${name} `, "m"));
    await delay(3_000);
    expect(await count(), "runs after remove").toBe(atRemove);

    const runs = await runsOf(cluster, name);
    expectRunsOk(runs, out);
    expect(outputs(out)).toEqual(runs.map((r) => timeName(r.due)));
    // Past runs stay in status.
    expect(await cli(cluster, ["status", "-n", "100"])).toContain(`tick (schedule ${name})`);
    // Pausing or resuming a schedule that is gone is an error naming it.
    const r = await cluster.run(["schedule", "resume", name]);
    expect(r.code).toBe(1);
    expect(r.output).toBe(`sheaf: no schedule ${name} under prefix sheaf\n`);
  });
});

describe("backfill", () => {
  it("runs exactly the due times of a past window, oldest first, one at a time; a second backfill queues nothing", async () => {
    const name = "bf";
    const out = s.path("out-bf");
    await add(cluster, name, out, ["--every", "2s"]);
    // Paused, so live wake-ups do not interleave; queued (backfilled) due times still run while paused.
    await cli(cluster, ["schedule", "pause", name]);
    await settled(cluster, name);
    const live0 = (await runsOf(cluster, name)).map((r) => r.id); // the wake-up on add may have fired one

    const window = ["--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T00:00:18Z"];
    const want = Array.from({ length: 10 }, (_, i) => Date.UTC(2026, 0, 1) + i * 2000);
    expect(await cli(cluster, ["schedule", "backfill", name, ...window])).toBe(
      `schedule ${name}: 10 due times queued (2026-01-01T00:00:00.000Z … 2026-01-01T00:00:18.000Z)\n`,
    );
    // At once, with most of them still queued (or running): nothing new to queue.
    expect(await cli(cluster, ["schedule", "backfill", name, ...window])).toBe(`schedule ${name}: 0 due times queued\n`);
    await settled(cluster, name, 40_000);
    // And after they ran.
    expect(await cli(cluster, ["schedule", "backfill", name, ...window])).toBe(`schedule ${name}: 0 due times queued\n`);
    // A window given without a zone is UTC, and bounds are inclusive; a wider window queues only what is new.
    expect(await cli(cluster, ["schedule", "backfill", name, "--from", "2026-01-01T00:00:16", "--to", "2026-01-01T00:00:20"])).toBe(
      `schedule ${name}: 1 due time queued (2026-01-01T00:00:20.000Z … 2026-01-01T00:00:20.000Z)\n`,
    );
    want.push(Date.UTC(2026, 0, 1, 0, 0, 20));
    await settled(cluster, name, 20_000);

    const all = await runsOf(cluster, name);
    const runs = all.filter((r) => !live0.includes(r.id));
    expect(runs.map((r) => iso(r.due))).toEqual(want.map(iso));
    expectRunsOk(all, out);
    expect(outputs(out).filter((n) => n.startsWith("2026-01-01T"))).toEqual(want.map(timeName));
    // Oldest first, one at a time.
    for (let i = 1; i < runs.length; i++) {
      expect(runs[i]!.startedAt, `${runs[i]!.id} started before ${runs[i - 1]!.id} finished`).toBeGreaterThanOrEqual(runs[i - 1]!.finishedAt);
    }
    const fired = await firedOf(cluster, name);
    for (const r of runs) expect(fired.get(r.due)).toBe(r.id);
    // Retention forgets fired due times (by due time: these are months old); their runs' records
    // still say they ran, so the window queues nothing again (it re-queued them before).
    await redisOf(cluster).del(`sheaf:schedule:${name}:fired`);
    expect(await cli(cluster, ["schedule", "backfill", name, "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T00:00:20Z"])).toBe(`schedule ${name}: 0 due times queued\n`);
    // A window of more than --max-runs due times is refused unless --yes: nothing is queued.
    const big = ["--from", "2026-02-01T00:00:00Z", "--to", "2026-02-01T00:04:00Z"]; // 121 due times, 2 s apart
    const refused = await cluster.run(["schedule", "backfill", name, ...big]);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain(`sheaf: schedule ${name} would run 121 due times between 2026-02-01T00:00:00.000Z and 2026-02-01T00:04:00.000Z, more than --max-runs 100: pass --yes to queue them all, or narrow the window`);
    expect(await redisOf(cluster).llen(`sheaf:schedule:${name}:queue`)).toBe(0);
    await remove(cluster, name);
  });
});

describe("backfill --rerun-failed", () => {
  it("runs the due times whose last run failed again, each under a new run id, keeping the failed run's record; others are not touched", async () => {
    const name = "bf-rerun";
    const out = s.path("out-bf-rerun");
    const input = s.write("in/flaky.txt", "fail\n");
    const job = s.write("job/flaky.ts", JOB_SOURCE.replace("emit(line);", 'if (line === "fail") throw new Error("told to fail"); emit(line);'));
    live.get(cluster) ?? live.set(cluster, new Set());
    live.get(cluster)!.add(name);
    await cli(cluster, ["schedule", "add", name, job, "-i", input, "-o", `${out}/{time}`, "--every", "1h", "--max-attempts", "1"]);
    await cli(cluster, ["schedule", "pause", name]);
    await settled(cluster, name);
    const inWindow = (r: RunInfo) => r.due >= Date.UTC(2026, 3, 1) && r.due <= Date.UTC(2026, 3, 1, 2);
    const window = ["--from", "2026-04-01T00:00:00Z", "--to", "2026-04-01T02:00:00Z"];
    const dues = [0, 1, 2].map((h) => Date.UTC(2026, 3, 1, h));

    expect(await cli(cluster, ["schedule", "backfill", name, ...window])).toContain(`schedule ${name}: 3 due times queued`);
    await settled(cluster, name);
    const failed = (await runsOf(cluster, name)).filter(inWindow);
    expect(failed.map((r) => [r.due, r.state])).toEqual(dues.map((d) => [d, "failed"]));
    // Without the flag, a failed due time has run: nothing to queue (it re-queued them under the same ids before).
    expect(await cli(cluster, ["schedule", "backfill", name, ...window])).toBe(`schedule ${name}: 0 due times queued\n`);

    // The cause is mended; the middle due time is made to have succeeded already by a rerun of its own.
    s.write("in/flaky.txt", "hello\n");
    expect(await cli(cluster, ["schedule", "backfill", name, "--from", "2026-04-01T01:00:00Z", "--to", "2026-04-01T01:00:00Z", "--rerun-failed"])).toContain(`schedule ${name}: 1 due time`);
    await settled(cluster, name);
    expect(await cli(cluster, ["schedule", "backfill", name, ...window, "--rerun-failed"])).toBe(
      `schedule ${name}: 2 due times queued (2026-04-01T00:00:00.000Z … 2026-04-01T02:00:00.000Z)\n`,
    );
    await settled(cluster, name);

    const runs = (await runsOf(cluster, name)).filter(inWindow);
    const fired = await firedOf(cluster, name);
    for (const d of dues) {
      const ofDue = runs.filter((r) => r.due === d).sort((a, b) => a.submittedAt - b.submittedAt);
      const base = `${name}.run-${iso(d).replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}`;
      // The failed run's record stays; the rerun has its own id and succeeded; the fired hash names it.
      expect(ofDue.map((r) => [r.id, r.state])).toEqual([[base, "failed"], [`${base}-r2`, "succeeded"]]);
      expect(fired.get(d)).toBe(`${base}-r2`);
      expect(outputText(join(out, timeName(d)))).toBe("hello\n");
    }
    expectNoOverlap(runs);
    // Nothing failed is left: a further --rerun-failed queues nothing.
    expect(await cli(cluster, ["schedule", "backfill", name, ...window, "--rerun-failed"])).toBe(`schedule ${name}: 0 due times queued\n`);
    await remove(cluster, name);
  });
});

describe("update", () => {
  it("re-bundles the edited module and changes the flags given; history, fired due times and state are kept", async () => {
    const name = "upd";
    // Due times of yesterday: within what retention keeps of a schedule's fired due times (--keep-for,
    // 7 days), so that its sweep (every minute) cannot drop them in the middle of the test.
    // An even hour: after the update, at(2) must be a due time of --every 2h (epoch-aligned), whatever the hour now.
    const hour = Math.floor((Date.now() - 86_400_000) / 7_200_000) * 7_200_000;
    const at = (h: number) => iso(hour + h * 3_600_000);
    const folder = (h: number) => timeName(hour + h * 3_600_000);
    const out = s.path("out-upd");
    const file = s.write("job/versioned.ts", JOB_SOURCE.replace("emit(line);", 'emit("v1");'));
    live.get(cluster) ?? live.set(cluster, new Set());
    live.get(cluster)!.add(name);
    expect(await cli(cluster, ["schedule", "add", name, file, "-i", INPUT, "-o", `${out}/{time}`, "--every", "1h"])).toBe(`schedule ${name} added\n`);
    await cli(cluster, ["schedule", "pause", name]);
    // Two past due times run with the code as added.
    await cli(cluster, ["schedule", "backfill", name, "--from", at(0), "--to", at(1)]);
    await settled(cluster, name, 40_000);
    const before = await historyOf(cluster, name);
    const firedBefore = await firedOf(cluster, name);
    const listed = await cli(cluster, ["schedule", "list"]);
    const hash = /code ([0-9a-f]{12}) bundled /.exec(listed)?.[1];
    expect(hash).toBeDefined();
    // The file is edited; the schedule takes it, and a new interval given as written.
    s.write("job/versioned.ts", JOB_SOURCE.replace("emit(line);", 'emit("v2");'));
    expect(await cli(cluster, ["schedule", "update", name, "--every", "2h"])).toMatch(new RegExp(`^schedule ${name} updated: code [0-9a-f]{12}\n$`));
    const after = await cli(cluster, ["schedule", "list"]);
    expect(after).toContain(`${name}  paused  every 2h  overlap skip  next -  (${file})  code `);
    expect(after).not.toContain(`code ${hash}`);
    await cli(cluster, ["schedule", "backfill", name, "--from", at(2), "--to", at(2)]);
    await settled(cluster, name, 40_000);
    expect(outputText(join(out, folder(0)))).toBe("v1\n");
    expect(outputText(join(out, folder(1)))).toBe("v1\n");
    expect(outputText(join(out, folder(2)))).toBe("v2\n");
    // Kept: every event and fired due time from before, and the paused state.
    const history = await historyOf(cluster, name);
    for (const e of before) expect(history).toContainEqual(e);
    for (const [due, run] of firedBefore) expect((await firedOf(cluster, name)).get(due)).toBe(run);
    expect(await redisOf(cluster).hget(`sheaf:schedule:${name}`, "state")).toBe("paused");
    await remove(cluster, name);
  });
});

describe("coordinator failover", () => {
  // The catch-up policy (coordinator/scheduler.ts's header): "while no coordinator leads, BullMQ
  // holds the next wake-up; the new leader fires it once, late, and the scheduler continues from
  // the current time. Due times that fell wholly inside the outage are not run; `sheaf schedule
  // backfill` runs them." So: no due time runs twice (the FIRE script is fenced and keyed by due
  // time, and a run the dead leader was driving is resumed with the stage job it had created), and
  // the due times missed are only those of the outage: after one interval before the kill, up to
  // one interval after the standby's "leader (epoch" line. `--overlap queue`, so that no due time
  // is lost to a run still going: a due time not in the fired hash was never fired at all.
  it("SIGKILL the leader while an --every 1s schedule is active: the standby takes over, no due time runs twice, only the outage is missed", async () => {
    const c = new Cluster(s.path("wd-failover"));
    extraClusters.push(c);
    await c.startRedis();
    // A 3 s lease: an outage of about three intervals, so that some due times fall wholly inside it.
    const leader = await c.coordinator(["--lease", "3000"]);
    const standby = await c.coordinator(["--lease", "3000"], true);
    await Promise.all([c.worker(2), c.worker(2)]);
    const name = "fo";
    const out = s.path("out-failover");
    await add(c, name, out, ["--every", "1s", "--overlap", "queue"]);
    await until("runs under the first leader", async () => (await runsOf(c, name)).length >= 3, 15_000, 100);

    leader.child.kill("SIGKILL");
    const killedAt = Date.now();
    await until("the standby to lead", () => standby.output().includes("leader (epoch"), 10_000, 20);
    const leaderAt = Date.now();
    await until("runs fired by the new leader", async () => (await runsOf(c, name)).filter((r) => r.submittedAt > leaderAt + 500).length >= 2, 15_000, 100);
    await cli(c, ["schedule", "pause", name]);
    await settled(c, name, 30_000);

    const runs = await runsOf(c, name);
    const fired = await firedOf(c, name);
    const history = await historyOf(c, name);
    const dues = [...fired.keys()].sort((a, b) => a - b);
    const detail = `killed ${iso(killedAt)}, standby led ${iso(leaderAt)} (${leaderAt - killedAt} ms); fired: ${dues.map((d) => `${iso(d).slice(11, 19)}=${fired.get(d) || "-"}`).join(" ")}`;
    expect(runs.length, detail).toBeGreaterThanOrEqual(5);
    expectRunsOk(runs, out);
    expect(outputs(out)).toEqual(runs.map((r) => timeName(r.due)));
    // The fired hash maps each due time to its one run (none left queued or skipped).
    expect(new Map(dues.map((d) => [d, fired.get(d)]))).toEqual(new Map(runs.map((r) => [r.due, r.id])));
    // Started once per due time in the history.
    const started = history.filter((e) => e.outcome === "started").map((e) => e.due).sort((a, b) => a - b);
    expect(started, detail).toEqual(runs.map((r) => r.due));
    // Each run's single stage ran as one job: a run the dead leader was driving was resumed, not run again.
    const redis = redisOf(c);
    const jobsPerRun = new Map<string, string[]>();
    for (const id of await redis.zrange("sheaf:jobs", "0", "-1")) {
      const spec = JSON.parse((await redis.hget(`sheaf:job:${id}`, "spec"))!) as { run?: string };
      if (spec.run) jobsPerRun.set(spec.run, [...(jobsPerRun.get(spec.run) ?? []), id]);
    }
    for (const r of runs) expect(jobsPerRun.get(r.id), `jobs of ${r.id}`).toHaveLength(1);
    // Both leaders fired some.
    expect(runs.some((r) => r.submittedAt < killedAt), detail).toBe(true);
    expect(runs.some((r) => r.submittedAt > leaderAt), detail).toBe(true);

    // Missed: never fired. Only inside the outage.
    const missed: number[] = [];
    for (let d = dues[0]!; d <= dues.at(-1)!; d += 1000) if (!fired.has(d)) missed.push(d);
    for (const d of missed) {
      expect(d, `missed ${iso(d)}, before the outage; ${detail}`).toBeGreaterThan(killedAt - 1000);
      expect(d, `missed ${iso(d)}, after the outage; ${detail}`).toBeLessThanOrEqual(leaderAt + 1000);
    }
    expect(missed.length, `the outage's due times are not run (until a backfill); ${detail}`).toBeGreaterThanOrEqual(1);
    console.log(`schedule failover: takeover ${leaderAt - killedAt} ms, ${runs.length} runs, ${missed.length} due times missed (${missed.map(iso).join(", ")})`);

    // The remedy the policy names: a backfill over the whole span queues exactly the missed due times, which then run.
    const said = await cli(c, ["schedule", "backfill", name, "--from", iso(dues[0]!), "--to", iso(dues.at(-1)!)]);
    expect(said).toMatch(new RegExp(`^schedule ${name}: ${missed.length} due times? queued`));
    await settled(c, name, 30_000);
    const after = await runsOf(c, name);
    expect(after.map((r) => r.due).filter((d) => !dues.includes(d))).toEqual(missed);
    expectConsecutive(after.map((r) => r.due), 1000);
    expectRunsOk(after, out);
    await remove(c, name);
  });
});

describe("bad input", () => {
  it("an invalid cron, an unknown zone, both --cron and --every: exit 1 with one line naming the problem; nothing stored", async () => {
    const cases: [string[], string][] = [
      [["--cron", "61 * * * *"], `sheaf: invalid cron expression "61 * * * *": Constraint error, got value 61 expected range 0-59`],
      [["--cron", "0 3 * *"], `sheaf: invalid cron expression "0 3 * *": it has 4 field(s); expected 5 (minute hour day-of-month month day-of-week) or 6 (second first)`],
      [["--cron", "0 3 * * *", "--tz", "Mars/Olympus"], `sheaf: unknown time zone "Mars/Olympus": expected an IANA zone such as "Europe/Berlin" or "UTC"`],
      [["--cron", "0 3 * * *", "--every", "5s"], `sheaf: give --cron "<expr>" or --every <duration>, one of them`],
      [[], `sheaf: give --cron "<expr>" or --every <duration>, one of them`],
      [["--every", "500ms"], `sheaf: invalid interval "500ms": it must be at least 1s`],
      [["--every", "5s", "--tz", "Europe/Berlin"], `sheaf: --tz applies to --cron schedules only`],
    ];
    const results = await Promise.all(cases.map(([args], i) => cluster.run(["schedule", "add", `bad${i}`, JOB, "-i", INPUT, "-o", s.path("out-bad"), ...args])));
    results.forEach((r, i) => {
      expect(r.code, `${cases[i]![0].join(" ")}: ${r.output}`).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.output).toBe(cases[i]![1] + "\n");
    });
    expect(await cli(cluster, ["schedule", "list"])).not.toContain("bad");
    expect(await redisOf(cluster).smembers("sheaf:schedules")).toEqual([]);
    expect(await redisOf(cluster).zcard("sheaf:schedules:repeat")).toBe(0);
  });
});
