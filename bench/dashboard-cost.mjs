// What the dashboard costs the cluster (issue 20): the same job of BENCH_TASKS empty tasks (default
// 10,000) on a local cluster (redis-server, one coordinator serving --http, one worker of two
// threads), with no page open ("closed"), with the jobs page open, with the job's own page open
// (each in a headless chromium, live updates on), with the job page's requests made by a plain HTTP
// client ("job api": the server's cost without chromium competing for the CPUs), and by ten such
// clients ("10 job apis"), in alternating rounds (BENCH_MODES picks some). Reported per mode,
// medians over BENCH_RUNS rounds (default 2): the job's time, the coordinator process's CPU seconds
// (the dashboard serves from it, so its cost is in there) and the Redis commands the job took
// (INFO's total_commands_processed over the job), and their rate; with BENCH_SERVE=standby, also
// the CPU of a standby coordinator serving the pages instead (the dashboard's own, measured
// directly). Target: at most 5% more coordinator CPU and Redis commands with a page open. Also the
// cost of one /metrics scrape (Redis commands and ms). bench/README.md has the figures.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Redis } from "ioredis";
import { cli, freePort, median, root } from "./etl-common.mjs";

const work = `${root}bench/data/dashboard-work`;
const TASKS = Number(process.env.BENCH_TASKS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
/** BENCH_TASK_MS: each task waits this long (default 0: empty tasks, a job of a second or two). */
const TASK_MS = Number(process.env.BENCH_TASK_MS ?? 0);
const CHROMIUM = "/usr/bin/chromium";
/** BENCH_PROF=DIR: the coordinator serving the pages runs under --cpu-prof, its profile written to DIR when it stops. */
const PROF = process.env.BENCH_PROF;


const cpuOf = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
};

function start(args, env = {}, node = []) {
  const child = spawn(process.execPath, [...node, cli, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  return { child, output: () => out, exited: once(child, "exit") };
}

async function until(what, probe, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

if (!existsSync(`${root}dist/dashboard/static/app.js`)) throw new Error("run `npm run build` first");
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const port = await freePort();
const httpPort = await freePort();
const url = `redis://127.0.0.1:${port}`;
const redisProc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
const redis = new Redis(url, { maxRetriesPerRequest: null });
redis.on("error", () => {}); // refused until redis-server listens
await until("redis", async () => (await redis.ping().catch(() => "")) === "PONG");
const env = { SHEAF_REDIS_URL: url, SHEAF_WORKDIR: `${work}/wd` };
const STANDBY = process.env.BENCH_SERVE === "standby";
const profiled = (dir) => (dir ? ["--cpu-prof", "--cpu-prof-dir", dir] : []);
const coordinator = start(["coordinator", "--http", `127.0.0.1:${httpPort}`], env, profiled(!STANDBY && PROF));
const worker = start(["worker", "--threads", "2"], env);
await until("the cluster", async () => coordinator.output().includes("leader (epoch") && worker.output().includes("ready"));
// BENCH_SERVE=standby: the pages are served by a second coordinator, a standby, whose CPU is then
// the dashboard's own (a standby otherwise only watches the leader's lock): measured directly,
// rather than as a difference of two noisy figures of the leader.
const standbyPort = await freePort();
const standby = STANDBY ? start(["coordinator", "--http", `127.0.0.1:${standbyPort}`], env, profiled(PROF)) : undefined;
if (standby) await until("the standby", async () => standby.output().includes("serving the dashboard"));
const base = `http://127.0.0.1:${STANDBY ? standbyPort : httpPort}`;
const input = `${work}/empty.txt`;
writeFileSync(input, "\n".repeat(TASKS));
const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await redis.info("stats"))[1]);

let browser;
if (existsSync(CHROMIUM)) {
  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({ executablePath: CHROMIUM });
} else console.log(`no chromium at ${CHROMIUM}: only the closed mode is measured`);

/**
 * The job page's requests without a browser, as the build under test's page makes them: one read of
 * the job, then either its new attempts on the events stream (`/events?job=`, a build whose view
 * has `timeline.next`), or, as before, the events stream and the whole view again every 5 s, or 1 s
 * per 1,000 tasks shown.
 */
function apiClient(id) {
  const abort = new AbortController();
  let timer;
  const view = () => fetch(`${base}/api/jobs/${id}`).then((r) => r.json()).catch(() => ({}));
  const events = view().then(async (v) => {
    const cursor = v.timeline?.next;
    if (cursor === undefined) {
      const again = async () => { const w = await view(); timer = setTimeout(again, Math.min(30_000, Math.max(5000, w.tasks?.length ?? 0))); };
      timer = setTimeout(again, Math.min(30_000, Math.max(5000, v.tasks?.length ?? 0)));
    }
    const res = await fetch(`${base}/events${cursor === undefined ? "" : `?job=${id}`}`, { signal: abort.signal });
    for await (const _ of res.body) {}
  }).catch(() => {});
  return { stop: async () => { clearTimeout(timer); abort.abort(); await events; clearTimeout(timer); } };
}

async function job(mode) {
  let page;
  if (mode === "jobs page") await (page = await browser.newPage()).goto(`${base}/`);
  const cpu0 = cpuOf(coordinator.child.pid);
  const served0 = standby ? cpuOf(standby.child.pid) : 0;
  const cmd0 = await commands();
  const t0 = Date.now();
  const submitted = start(["submit", TASK_MS ? "bench/jobs/wait.ts" : "bench/jobs/empty.ts", "--input", input, "--output", `${work}/out`, "--split-size", "1", "--overwrite", "-q", ...(TASK_MS ? ["--param", `taskMs=${TASK_MS}`] : [])], env);
  await submitted.exited;
  const id = submitted.output().trim().split("\n")[0];
  if (mode === "job page") await (page = await browser.newPage()).goto(`${base}/jobs/${id}`);
  // The job page's requests without a browser (the events stream, the job's view every 5 s): the
  // server's cost alone, without chromium's rendering competing for this machine's two cores.
  // "10 job apis": ten viewers of the job's page, what the server shares between them.
  const clients = mode === "job api" ? [apiClient(id)] : mode === "10 job apis" ? Array.from({ length: 10 }, () => apiClient(id)) : [];
  await until("the job to end", async () => ["succeeded", "failed", "cancelled"].includes(await redis.hget(`sheaf:job:${id}`, "state")), 600_000);
  const seconds = (Date.now() - t0) / 1000;
  const cpu = cpuOf(coordinator.child.pid) - cpu0;
  const served = standby ? cpuOf(standby.child.pid) - served0 : undefined;
  const cmds = (await commands()) - cmd0;
  await page?.close();
  await Promise.all(clients.map((c) => c.stop()));
  const state = await redis.hget(`sheaf:job:${id}`, "state");
  if (state !== "succeeded") throw new Error(`job ${id} ${state}`);
  return { seconds, cpu, served, commandsPerSec: cmds / seconds, commands: cmds };
}

const modes = (process.env.BENCH_MODES?.split(",") ?? (browser ? ["closed", "jobs page", "job page", "job api"] : ["closed", "job api"])).filter((m) => browser || !m.endsWith("page"));
const results = Object.fromEntries(modes.map((m) => [m, []]));
for (let i = 0; i < Number(process.env.BENCH_WARMUPS ?? 3); i++) await job("closed"); // warm-up: the coordinator's and worker's hot code compiled
// BENCH_WARM_PAGE=1: one more warm-up with the job's page open, so the server's page code is
// compiled (and its one-off set-up done) before the rounds rather than in the first page round.
if (process.env.BENCH_WARM_PAGE && browser) await job("job page");
for (let r = 0; r < RUNS; r++) for (const m of r % 2 ? [...modes].reverse() : modes) {
  const x = await job(m);
  results[m].push(x);
  console.log(`round ${r + 1} ${m.padEnd(9)}: load ${readFileSync("/proc/loadavg", "utf8").split(" ")[0]}, ${x.seconds.toFixed(1)} s, coordinator CPU ${x.cpu.toFixed(2)} s, ${Math.round(x.commandsPerSec)} Redis commands/s (${x.commands})${standby ? `, standby serving the pages: CPU ${x.served.toFixed(2)} s` : ""}`);
}

// After the jobs' tails (queue cleanup) have settled; the least of five scrapes.
await new Promise((r) => setTimeout(r, 3000));
let scrapeMs = Infinity, scrapeCommands = Infinity, text = "";
for (let i = 0; i < 5; i++) {
  const c0 = await commands();
  const t0 = performance.now();
  text = await (await fetch(`${base}/metrics`)).text();
  scrapeMs = Math.min(scrapeMs, performance.now() - t0);
  scrapeCommands = Math.min(scrapeCommands, (await commands()) - c0 - 1); // less INFO's own
}
console.log(`\none /metrics scrape: ${scrapeMs.toFixed(0)} ms, ${scrapeCommands} Redis commands, ${text.length} bytes`);

const closed = results.closed ?? Object.values(results)[0];
const ref = { cpu: median(closed.map((x) => x.cpu)), commands: median(closed.map((x) => x.commands)) };
// Commands per job, not per second: a page open on this two-core machine slows the job (chromium
// takes CPU), which lowers the rate without any saving.
const range = (xs) => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
console.log(`\n${"mode".padEnd(10)} ${"job s".padStart(7)} ${"coord CPU s".padStart(11)} ${"range".padStart(10)} ${"vs closed".padStart(9)} ${"Redis cmds".padStart(10)} ${"vs closed".padStart(9)} ${"cmd/s".padStart(7)}${standby ? ` ${"served CPU s".padStart(12)} ${"of coord".padStart(8)}` : ""}`);
for (const m of modes) {
  const xs = results[m];
  const cpu = median(xs.map((x) => x.cpu));
  const cmds = median(xs.map((x) => x.commands));
  console.log(`${m.padEnd(10)} ${median(xs.map((x) => x.seconds)).toFixed(1).padStart(7)} ${cpu.toFixed(2).padStart(11)} ${range(xs.map((x) => x.cpu)).padStart(10)} ${`${((cpu / ref.cpu - 1) * 100).toFixed(1)}%`.padStart(9)} ` +
    `${Math.round(cmds).toString().padStart(10)} ${`${((cmds / ref.commands - 1) * 100).toFixed(1)}%`.padStart(9)} ${Math.round(median(xs.map((x) => x.commandsPerSec))).toString().padStart(7)}` +
    (standby ? ` ${median(xs.map((x) => x.served)).toFixed(2).padStart(12)} ${`${((median(xs.map((x) => x.served)) / cpu) * 100).toFixed(1)}%`.padStart(8)}` : ""));
}

await browser?.close();
coordinator.child.kill("SIGTERM");
standby?.child.kill("SIGTERM");
worker.child.kill("SIGTERM");
await Promise.all([coordinator.exited, worker.exited, standby?.exited]);
redis.disconnect();
redisProc.kill("SIGTERM");
rmSync(work, { recursive: true, force: true });
