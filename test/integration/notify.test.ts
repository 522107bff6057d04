/**
 * Alerts (issue 20, item 5) on a real cluster, with a local HTTP server as the receiver: a failed
 * job's `--notify` URL gets exactly one `job.failed` (signed with SHEAF_SECRET), a coordinator-wide
 * `--notify` target that refuses the first POST gets it on a retry, and a scheduled run held past
 * its `--sla` gets `schedule.late`, then `run.succeeded` (`--notify-success`).
 */
import { createHmac } from "node:crypto";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Keys } from "../../core/cluster/keys.js";
import { Notifier } from "../../coordinator/notifier.js";
import { Cluster } from "./cluster-harness.js";
import { delay, FAULTY, freshDir, params, stopClustersAfterEach, until } from "./fault-kit.js";
import { FIXTURE_JOBS, Scratch } from "./helpers.js";

const SECRET = "notify-test-secret-0123456789";
const env = { SHEAF_SECRET: SECRET };
const s = new Scratch("notify");
const clusters: Cluster[] = [];
stopClustersAfterEach(clusters, s);

interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  event: Record<string, unknown>;
  status: number;
}

/** A receiver on a free loopback port; `refuse(path)` answers 500 to that path's first POST. */
async function receiver(refuseFirst: string[] = []): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const refused = new Set<string>();
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const path = req.url ?? "";
      const status = refuseFirst.includes(path) && !refused.has(path) ? 500 : 200;
      if (status === 500) refused.add(path);
      got.push({ path, headers: req.headers, body, event: JSON.parse(body) as Record<string, unknown>, status });
      res.writeHead(status).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, got, server };
}
const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((r) => server.close(r));
});

const accepted = (got: Received[], path: string, event: string) => got.filter((g) => g.path === path && g.status === 200 && g.event.event === event);

describe("--notify", () => {
  it("a failed job: exactly one job.failed to its URL, signed; the coordinator's target gets it after a refused first POST", async () => {
    const r = await receiver(["/all"]);
    const c = new Cluster(s.path("wd"));
    clusters.push(c);
    await c.startRedis();
    await c.coordinator(["--notify", `${r.url}/all`, "--public-url", "https://sheaf.example.com/"], false, env);
    await c.worker(1, [], env);
    const input = join(freshDir(s, "in"), "a.txt");
    writeFileSync(input, "one two\nbad\nthree\n");
    const sub = await c.run(["submit", join(FIXTURE_JOBS, "boom.ts"), "-i", input, "-o", s.fresh("out"), "--max-attempts", "1", "--wait", "-q", "--notify", `${r.url}/job`, ...params({ fail: "map", bad: "bad" })], env);
    expect(sub.code).toBe(1);
    const id = sub.stdout.trim();

    await until("the job's event", () => accepted(r.got, "/job", "job.failed").length > 0, 15_000);
    await until("the coordinator target's event, on a retry", () => accepted(r.got, "/all", "job.failed").length > 0, 15_000);
    await delay(3_000); // nothing more comes
    const [mine] = accepted(r.got, "/job", "job.failed");
    expect(accepted(r.got, "/job", "job.failed")).toHaveLength(1);
    expect(r.got.filter((g) => g.path === "/job")).toHaveLength(1);
    expect(r.got.filter((g) => g.path === "/all").map((g) => g.status)).toEqual([500, 200]);
    expect(mine!.event).toMatchObject({
      event: "job.failed", eventId: `job.failed:${id}`, id, name: "boom", url: `https://sheaf.example.com/jobs/${id}`,
      error: expect.stringContaining(`map threw on the record at ${input} byte 8: cannot map "bad"`),
      text: expect.stringContaining(`sheaf: job boom (${id}) failed:`),
    });
    expect(mine!.headers["content-type"]).toBe("application/json");
    expect(mine!.headers["x-sheaf-signature"]).toBe(`sha256=${createHmac("sha256", SECRET).update(mine!.body).digest("hex")}`);

    // Two leaders in turn (a failover: the new one looks back over recently finished jobs), and
    // both at once: the event is queued and POSTed once.
    const redis = c.client();
    const leaders = [0, 1].map(() => new Notifier(redis, new Keys("sheaf"), { targets: [`${r.url}/twice`] }, () => {}));
    for (let i = 0; i < 3; i++) {
      await Promise.all(leaders.map((n) => n.tick()));
      await delay(1_100);
    }
    expect(accepted(r.got, "/twice", "job.failed").map((g) => g.event.id)).toEqual([id]);
  }, 90_000);

  it("a scheduled run held past its --sla: schedule.late, then run.succeeded with --notify-success, once each", async () => {
    const r = await receiver();
    const c = new Cluster(s.path("wd"));
    clusters.push(c);
    await c.startRedis();
    await c.coordinator([], false, env);
    await c.worker(1, [], env);
    const input = join(freshDir(s, "in2"), "a.txt");
    writeFileSync(input, "a b c\n".repeat(10));
    const out = s.fresh("out2");
    // Every 10 s; each run's map task sleeps 4 s, past the 1 s SLA.
    const add = await c.run(["schedule", "add", "late", FAULTY, "-i", input, "-o", `${out}/{time}`, "--every", "10s", "--notify", `${r.url}/s`, "--sla", "1s", "--notify-success", ...params({ taskMs: 4000 })], env);
    expect(add.code, add.output).toBe(0);
    await until("schedule.late", () => accepted(r.got, "/s", "schedule.late").length > 0, 30_000);
    const late = accepted(r.got, "/s", "schedule.late")[0]!.event;
    expect(late).toMatchObject({ event: "schedule.late", schedule: "late", name: "faulty", text: expect.stringContaining("had not finished by") });
    const runId = late.id as string;
    expect((await c.run(["schedule", "list"], env)).stdout).toMatch(/^ {2}notify {4}http:\/\/127\.0\.0\.1:\d+\/… \(successes too\), late after 1s$/m);
    await until("run.succeeded", () => accepted(r.got, "/s", "run.succeeded").some((g) => g.event.id === runId), 30_000);
    expect((await c.run(["schedule", "remove", "late"], env)).code).toBe(0);
    await delay(2_000);
    expect(r.got.filter((g) => g.event.id === runId).map((g) => g.event.event)).toEqual(["schedule.late", "run.succeeded"]);
  }, 90_000);
});
