/**
 * Job code does not receive the cluster's credentials (red-team findings 8 and 10), on a real
 * cluster: Redis with an admin password, SHEAF_SECRET everywhere, and a worker connected as the
 * ACL user `sheaf acl` makes, its URL (with the password) given first by `--redis`, then by
 * SHEAF_REDIS_URL_FILE. A job's map reports what it can see (SHEAF_SECRET, process.argv, the
 * process's command line, whether any environment value holds a Redis password), and its module's
 * top level writes its environment to a marker file, in the coordinator's planning thread and in
 * the worker's threads. None of it may hold a credential, while the job's own variables stay. A
 * job's error holding terminal escapes is printed by `sheaf status` with the escapes made visible.
 */
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster, type Proc } from "./cluster-harness.js";
import { redisOf } from "./fault-kit.js";
import { outputText, parseTsv, Scratch } from "./helpers.js";

const SECRET = "test-secret-0123456789abcdef";
const ADMIN_PASSWORD = "adm1n-pw-7a3f";
const USER = "sheafworker";
const WORKER_PASSWORD = "w0rker-pw-91c2";
const DATABASE_URL = "postgres://job:jobpw@db.internal/app";

/** A cluster whose Redis default user has a password: every URL the harness hands out carries it. */
class PasswordCluster extends Cluster {
  override get url(): string {
    return `redis://:${ADMIN_PASSWORD}@127.0.0.1:${this.port}`;
  }
}

const s = new Scratch("secrets");
const cluster = new PasswordCluster(s.path("wd"), ["--save", "", "--appendonly", "no", "--requirepass", ADMIN_PASSWORD]);
const markers = s.path("markers");
mkdirSync(markers);
let workerUrl = "";
let coordinator: Proc;
let input = "";
let leakJob = "";

/** What no job thread may see. */
const credentials = () => [SECRET, ADMIN_PASSWORD, WORKER_PASSWORD, cluster.url, workerUrl];

function leakModule(): string {
  return `import { readFileSync, writeFileSync } from "node:fs";
import { isMainThread, threadId } from "node:worker_threads";
import { defineJob, lines, tsv } from "sheaf";
// Top level: runs when the module is imported (the coordinator's planning thread, each worker thread, and submit's own process).
writeFileSync(${JSON.stringify(markers + "/")} + (isMainThread ? "main" : "thread") + "-" + process.pid + "-" + threadId + ".json",
  JSON.stringify({ env: process.env, argv: process.argv, execArgv: process.execArgv }));
const passwords = ${JSON.stringify([ADMIN_PASSWORD, WORKER_PASSWORD])};
export default defineJob({
  name: "leak",
  input: lines(),
  map(_line: string, emit) {
    emit("secret", String(process.env.SHEAF_SECRET));
    emit("redisUrlVar", String(process.env.SHEAF_REDIS_URL));
    emit("argv", process.argv.join(" "));
    emit("execArgv", process.execArgv.join(" "));
    emit("passwordInEnv", String(Object.values(process.env).some((v) => passwords.some((p) => v?.includes(p)))));
    emit("cmdline", readFileSync("/proc/self/cmdline", "utf8").replace(/\\0/g, " "));
    emit("environHasSecret", String(readFileSync("/proc/self/environ", "utf8").includes(${JSON.stringify(SECRET)})));
    emit("database", String(process.env.DATABASE_URL));
  },
  output: tsv(),
});
`;
}

/** The markers written by `pid`'s threads (not its main thread), as text. */
function threadMarkers(pid: number): string[] {
  return readdirSync(markers).filter((f) => f.startsWith(`thread-${pid}-`)).map((f) => readFileSync(join(markers, f), "utf8"));
}

/** Runs the leak job on the cluster and returns what its map saw. */
async function runLeak(): Promise<Record<string, string>> {
  const out = s.fresh();
  const r = await cluster.run(["submit", leakJob, "-i", input, "-o", out, "--wait", "-q"], { SHEAF_SECRET: SECRET });
  expect(r.code, r.output).toBe(0);
  return Object.fromEntries(parseTsv(outputText(out)).map(([k, v]) => [k!, v!]));
}

function expectNothingLeaked(seen: Record<string, string>, workerPid: number): void {
  expect(seen.secret).toBe("undefined");
  expect(seen.redisUrlVar).toBe("undefined");
  expect(seen.passwordInEnv).toBe("false");
  expect(seen.database).toBe(DATABASE_URL); // the job's own variables stay
  for (const c of credentials()) {
    expect(seen.argv).not.toContain(c);
    expect(seen.execArgv).not.toContain(c);
    expect(seen.cmdline).not.toContain(c);
  }
  expect(seen.argv).not.toContain("--redis");
  // Not a boundary: the process's own environment block is readable by its code (see README).
  console.log(`security-secrets: /proc/self/environ holds SHEAF_SECRET: ${seen.environHasSecret}`);
  const planned = threadMarkers(coordinator.child.pid!);
  const ran = threadMarkers(workerPid);
  expect(planned.length, "the coordinator's planning thread imported the module").toBeGreaterThan(0);
  expect(ran.length, "a worker thread imported the module").toBeGreaterThan(0);
  for (const marker of [...planned, ...ran]) {
    for (const c of credentials()) expect(marker).not.toContain(c);
    expect(JSON.parse(marker).env.DATABASE_URL).toBe(DATABASE_URL);
  }
}

beforeAll(async () => {
  await cluster.startRedis();
  const printed = await cluster.run(["acl", "--prefix", "sheaf", "--user", USER, "--password", WORKER_PASSWORD]);
  expect(printed.code, printed.output).toBe(0);
  const [, , ...rule] = printed.stdout.trim().split(/\s+/);
  expect(await redisOf(cluster).call("ACL", "SETUSER", ...rule)).toBe("OK");
  workerUrl = `redis://${USER}:${WORKER_PASSWORD}@127.0.0.1:${cluster.port}`;
  input = s.write("input.txt", "one line\n");
  leakJob = s.write("leak.ts", leakModule());
  // The coordinator's environment: the secret, the admin URL (SHEAF_REDIS_URL, from the harness),
  // and a copy of it under a name of the operator's own.
  coordinator = await cluster.coordinator([], false, { SHEAF_SECRET: SECRET, DATABASE_URL, OPS_REDIS: cluster.url });
}, 60_000);

afterAll(async () => {
  await cluster.stop();
  cluster.assertNoLeaks();
  s.cleanup();
});

describe("job code and the cluster's credentials", () => {
  it("a worker given `--redis redis://user:password@…`: its job threads see no secret, no Redis URL or password, not even in `ps`", async () => {
    const worker = await cluster.worker(1, ["--redis", workerUrl], { SHEAF_SECRET: SECRET, DATABASE_URL, OPS_REDIS: workerUrl });
    // What `ps` shows of the worker, to any user.
    const cmdline = readFileSync(`/proc/${worker.child.pid}/cmdline`, "utf8").replace(/\0/g, " ");
    expect(cmdline).toContain(`--redis redis://${USER}:***@127.0.0.1`);
    expect(cmdline).not.toContain(WORKER_PASSWORD);
    expectNothingLeaked(await runLeak(), worker.child.pid!);
    worker.child.kill("SIGTERM");
    await worker.exited;
  }, 90_000);

  it("a worker given SHEAF_REDIS_URL_FILE connects as that user, and its job threads see neither the URL nor the file's name", async () => {
    const file = s.write("worker-redis-url", workerUrl + "\n");
    const worker = await cluster.worker(1, [], { SHEAF_SECRET: SECRET, DATABASE_URL, SHEAF_REDIS_URL: "", SHEAF_REDIS_URL_FILE: file });
    const clients = String(await redisOf(cluster).call("CLIENT", "LIST")).split("\n").filter((l) => / name=sheaf-worker/.test(l));
    expect(clients.length).toBeGreaterThan(0);
    for (const c of clients) expect(c).toMatch(new RegExp(`user=${USER}\\b`));
    const seen = await runLeak();
    expectNothingLeaked(seen, worker.child.pid!);
    for (const marker of threadMarkers(worker.child.pid!)) expect(JSON.parse(marker).env.SHEAF_REDIS_URL_FILE).toBeUndefined();
    // `--redis-file` for a one-shot command.
    const admin = s.write("admin-redis-url", cluster.url);
    const status = await cluster.run(["status", "--redis-file", admin], { SHEAF_REDIS_URL: "" });
    expect(status.code, status.output).toBe(0);
    expect(status.stdout).toMatch(/leak-\d+/);
  }, 90_000);

  it("`sheaf status` prints a job's error and latest failure with their terminal escapes made visible", async () => {
    const job = s.write(
      "shout.ts",
      `import { defineJob, lines, tsv } from "sheaf";\nexport default defineJob({ name: "shout", input: lines(), map(_l: string, _emit) { throw new Error("\\u001b[2J\\u001b[Hall clear\\rstate     succeeded\\u001b]0;owned\\u0007"); }, output: tsv() });\n`,
    );
    const r = await cluster.run(["submit", job, "-i", input, "-o", s.fresh(), "--max-attempts", "1", "--wait", "-q"], { SHEAF_SECRET: SECRET });
    expect(r.code).not.toBe(0);
    expect(r.output).not.toContain("\u001b");
    const id = /shout-[\w-]+/.exec(r.stdout)![0];
    const status = await cluster.run(["status", id]);
    expect(status.code, status.output).toBe(0);
    expect(status.stdout).toMatch(/failed +\d+ attempts?; latest: .*\\x1b\[2J\\x1b\[Hall clear\\rstate +succeeded\\x1b\]0;owned\\x07/);
    expect(status.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(status.stdout.split("\n").filter((l) => l.startsWith("state"))).toEqual(["state     failed"]);
  }, 90_000);

  it("a URL of the wrong scheme is refused without printing its password", async () => {
    const r = await cluster.run(["status", "--redis", "http://admin:hunter22@127.0.0.1:1"]);
    expect(r.code).toBe(1);
    expect(r.output).toContain("not a Redis URL: http://admin:***@127.0.0.1:1");
    expect(r.output).not.toContain("hunter22");
  });
});

