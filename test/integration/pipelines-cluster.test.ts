/**
 * Pipelines on a cluster: the orders-nightly example submitted to a coordinator and two workers
 * gives byte-identical outputs to `sheaf run`; `status` shows the run with its stages; a second
 * submit skips every stage; a failing stage fails the run naming it and stops its dependents; and
 * `cancel` on a run id cancels the whole run.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "./cluster-harness.js";
import { params, until } from "./fault-kit.js";
import { EXAMPLE_JOBS, Scratch, runCli, sameOutput } from "./helpers.js";

// Without DATABASE_URL the example has no load stage: files only, comparable byte for byte.
delete process.env.DATABASE_URL;
const env = { DATABASE_URL: "" };

const s = new Scratch("pipelines-cluster");
const cluster = new Cluster(s.path("cluster-workdir"));
const DAY = "2026-11-28";
let orders: string;

beforeAll(async () => {
  orders = s.path("orders");
  mkdirSync(join(orders, DAY), { recursive: true });
  cpSync(join(EXAMPLE_JOBS, "data/orders.csv"), join(orders, DAY, "orders.csv"));
  await cluster.startRedis();
  await cluster.coordinator();
  await cluster.worker(2);
  await cluster.worker(1);
});

afterAll(async () => {
  await cluster.stop();
  cluster.assertNoLeaks();
  s.cleanup();
});

const pipeline = join(EXAMPLE_JOBS, "orders-nightly.ts");

describe("pipelines on a cluster", () => {
  it("submit --wait gives sheaf run's outputs, byte for byte; status shows the stages; a rerun skips them", async () => {
    const embedded = s.path("wh-run");
    const r = runCli(["run", pipeline, "--at", DAY, ...params({ orders, warehouse: embedded }), "--workdir", s.path("run-workdir"), "-q"]);
    expect(r.status, r.stderr).toBe(0);

    const clustered = s.path("wh-cluster");
    const sub = await cluster.run(["submit", pipeline, "--at", DAY, ...params({ orders, warehouse: clustered }), "--wait"], env);
    expect(sub.code, sub.output).toBe(0);
    const runId = sub.stdout.trim().split("\n")[0]!;
    expect(runId).toMatch(/^orders-nightly\.run-/);
    for (const stage of ["clean", "daily"]) sameOutput(join(embedded, stage, `date=${DAY}`), join(clustered, stage, `date=${DAY}`));

    const status = await cluster.run(["status", runId], env);
    expect(status.stdout).toMatch(/state\s+succeeded/);
    expect(status.stdout).toMatch(/clean\s+succeeded\s+orders-nightly\.clean-/);
    expect(status.stdout).toMatch(/daily\s+succeeded\s+orders-nightly\.daily-/);
    const table = await cluster.run(["status"], env);
    expect(table.stdout).toContain(runId);
    expect(table.stdout).not.toMatch(/^orders-nightly\.clean-/m); // stage jobs show inside their run

    const again = await cluster.run(["submit", pipeline, "--at", DAY, ...params({ orders, warehouse: clustered }), "--wait"], env);
    expect(again.code, again.output).toBe(0);
    expect(again.output).toMatch(/stage clean: skipped/);
    expect(again.output).toMatch(/stage daily: skipped/);
  });

  it("--only reruns one stage, --from a stage and those after it; an unknown one is refused at submit", async () => {
    const wh = s.path("wh-partial");
    const args = ["submit", pipeline, "--at", DAY, ...params({ orders, warehouse: wh }), "--wait"];
    expect((await cluster.run(args, env)).code).toBe(0);
    const only = await cluster.run([...args, "--only", "daily"], env);
    expect(only.code, only.output).toBe(0);
    expect(only.output).toMatch(/stage clean: skipped/);
    expect(only.output).toMatch(/stage daily: succeeded/);
    const from = await cluster.run([...args, "--from", "clean"], env);
    expect(from.code, from.output).toBe(0);
    expect(from.output).toMatch(/stage clean: succeeded/);
    expect(from.output).toMatch(/stage daily: succeeded/);
    const typo = await cluster.run([...args, "--from", "claen"], env);
    expect(typo.code).toBe(1);
    expect(typo.output).toContain('sheaf: pipeline orders-nightly has no stage "claen" (--from): did you mean "clean"?');
  });

  it("a failing stage fails the run naming it, and its dependents do not run", async () => {
    const broken = s.path("orders-broken");
    mkdirSync(join(broken, DAY), { recursive: true });
    writeFileSync(join(broken, DAY, "orders.csv"), 'order_id,customer,country,amount,ordered_at\n1,"unclosed,us,1.00,2026-11-28T00:00:00Z\n'.repeat(1) + "x\n".repeat(200));
    const wh = s.path("wh-broken");
    const r = await cluster.run(["submit", pipeline, "--at", DAY, ...params({ orders: broken, warehouse: wh }), "--wait"], env);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/stage clean: failed/);
    expect(r.output).toMatch(/stage daily: not run/);
    expect(r.output).toMatch(/pipeline run orders-nightly\.run-\S+ failed: stage clean: .*bad records/); // the pipeline named once (issue 17)
    expect(existsSync(join(wh, "daily"))).toBe(false);
  });

  it("a stage's own pool and priority go over the run's --pool and --priority, on its job", async () => {
    s.write("jobs/copy.ts", `import { defineJob, lines } from "sheaf";\nexport default defineJob({ name: "copy", input: lines(), map: (l: string, emit) => emit(l.toUpperCase()) });`);
    const text = Array.from({ length: 50 }, (_, i) => `line ${i}`);
    const file = s.write("share-in/a.txt", text.join("\n") + "\n");
    const pipe = s.write(
      "jobs/share-pipeline.ts",
      `import { definePipeline } from "sheaf";
import copy from "./copy.js";
export default definePipeline({ name: "share-pipe", stages: { one: { job: copy, input: ${JSON.stringify(file)}, output: ${JSON.stringify(s.path("share-out/one"))}, pool: "etl", priority: 4 }, two: { job: copy, input: "one", output: ${JSON.stringify(s.path("share-out/two"))} } } });`,
    );
    const sub = await cluster.run(["submit", pipe, "--pool", "adhoc", "--priority", "2", "--wait"], env);
    expect(sub.code, sub.output).toBe(0);
    const status = (await cluster.run(["status", sub.stdout.trim().split("\n")[0]!], env)).stdout;
    const redis = cluster.client();
    const specOf = async (stage: string) => {
      const id = new RegExp(`${stage}\\s+succeeded\\s+(share-pipe\\.${stage}-\\S+)`).exec(status)?.[1];
      expect(id, status).toBeDefined();
      return JSON.parse((await redis.hget(`sheaf:job:${id}`, "spec"))!) as { pool?: string; priority?: number };
    };
    expect(await specOf("one")).toMatchObject({ pool: "etl", priority: 4 });
    expect(await specOf("two")).toMatchObject({ pool: "adhoc", priority: 2 });
    // And the stages ran: each line upper-cased once (twice is the same), in whatever part files.
    const out = s.path("share-out/two");
    const got = readdirSync(out).filter((f) => f.startsWith("part-")).flatMap((f) => readFileSync(join(out, f), "utf8").split("\n").filter(Boolean));
    expect(got.sort()).toEqual(text.map((l) => l.toUpperCase()).sort());
  });

  it("cancel on a run id cancels the running stage's job and the run", async () => {
    s.write(
      "jobs/slow.ts",
      `import { defineJob, lines } from "sheaf";
export default defineJob({ name: "slow", input: lines(), setup() { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000); }, map: (l: string, emit) => emit(l) });`,
    );
    const file = s.write("slow-in/a.txt", "a\n");
    const pipe = s.write(
      "jobs/slow-pipeline.ts",
      `import { definePipeline } from "sheaf";
import slow from "./slow.js";
export default definePipeline({ name: "slow-pipe", stages: { one: { job: slow, input: ${JSON.stringify(file)}, output: ${JSON.stringify(s.path("slow-out/one"))} }, two: { job: slow, input: "one", output: ${JSON.stringify(s.path("slow-out/two"))} } } });`,
    );
    const sub = await cluster.run(["submit", pipe], env);
    expect(sub.code, sub.output).toBe(0);
    const runId = sub.stdout.trim();
    await until("stage one to run", async () => /one\s+running\s+slow-pipe\.one-/.test((await cluster.run(["status", runId], env)).stdout), 30_000, 200);
    const c = await cluster.run(["cancel", runId], env);
    expect(c.code, c.output).toBe(0);
    expect(c.stdout).toContain(`${runId} cancelled`);
    const status = (await cluster.run(["status", runId], env)).stdout;
    expect(status).toMatch(/state\s+cancelled/);
    expect(status).toMatch(/two\s+(cancelled|not run|pending)/);
    expect(existsSync(s.path("slow-out/one/_SUCCESS"))).toBe(false);
  });
});
