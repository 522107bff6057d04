// What the dashboard costs the cluster (issue 20): the same job of BENCH_TASKS empty tasks (default
// 10,000) on a local cluster (redis-server, one coordinator serving --http, one worker of two
// threads), with no page open, with the jobs page open, and with the job's own page open (each in a
// headless chromium, live updates on), and with the job page's requests made by a plain HTTP client
// (the server's cost without chromium competing for the CPUs), in alternating rounds. Reported per mode, medians over
// BENCH_RUNS rounds (default 2): the job's time, the coordinator process's CPU seconds (the dashboard
// serves from it, so its cost is in there) and the Redis commands the job took (INFO's
// total_commands_processed over the job), and their rate. Target: at most 5% more coordinator CPU and Redis commands
// with a page open. Also the cost of one /metrics scrape (Redis commands and ms).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Redis } from "ioredis";
import { cli, freePort, median, root } from "./etl-common.mjs";

const work = `${root}bench/data/dashboard-work`;
const TASKS = Number(process.env.BENCH_TASKS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
const CHROMIUM = "/usr/bin/chromium";


const cpuOf = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
};

function start(args, env = {}) {
  const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
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
const coordinator = start(["coordinator", "--http", `127.0.0.1:${httpPort}`], env);
const worker = start(["worker", "--threads", "2"], env);
await until("the cluster", async () => coordinator.output().includes("leader (epoch") && worker.output().includes("ready"));
const base = `http://127.0.0.1:${httpPort}`;
const input = `${work}/empty.txt`;
writeFileSync(input, "\n".repeat(TASKS));
const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await redis.info("stats"))[1]);

let browser;
if (existsSync(CHROMIUM)) {
  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({ executablePath: CHROMIUM });
} else console.log(`no chromium at ${CHROMIUM}: only the closed mode is measured`);

function apiClient(id) {
  const abort = new AbortController();
  const events = fetch(`${base}/events`, { signal: abort.signal }).then(async (res) => { for await (const _ of res.body) {} }).catch(() => {});
  const timer = setInterval(() => void fetch(`${base}/api/jobs/${id}`).then((r) => r.arrayBuffer()).catch(() => {}), 5000);
  return { stop: async () => { clearInterval(timer); abort.abort(); await events; } };
}

async function job(mode) {
  let page;
  if (mode === "jobs page") await (page = await browser.newPage()).goto(`${base}/`);
  const cpu0 = cpuOf(coordinator.child.pid);
  const cmd0 = await commands();
  const t0 = Date.now();
  const submitted = start(["submit", "bench/jobs/empty.ts", "--input", input, "--output", `${work}/out`, "--split-size", "1", "--overwrite", "-q"], env);
  await submitted.exited;
  const id = submitted.output().trim().split("\n")[0];
  if (mode === "job page") await (page = await browser.newPage()).goto(`${base}/jobs/${id}`);
  // The job page's requests without a browser (the events stream, the job's view every 5 s): the
  // server's cost alone, without chromium's rendering competing for this machine's two cores.
  let client;
  if (mode === "job api") client = apiClient(id);
  await until("the job to end", async () => ["succeeded", "failed", "cancelled"].includes(await redis.hget(`sheaf:job:${id}`, "state")), 600_000);
  const seconds = (Date.now() - t0) / 1000;
  const cpu = cpuOf(coordinator.child.pid) - cpu0;
  const cmds = (await commands()) - cmd0;
  await page?.close();
  await client?.stop();
  const state = await redis.hget(`sheaf:job:${id}`, "state");
  if (state !== "succeeded") throw new Error(`job ${id} ${state}`);
  return { seconds, cpu, commandsPerSec: cmds / seconds, commands: cmds };
}

const modes = browser ? ["closed", "jobs page", "job page", "job api"] : ["closed", "job api"];
const results = Object.fromEntries(modes.map((m) => [m, []]));
for (let i = 0; i < 3; i++) await job("closed"); // warm-up: the coordinator's and worker's hot code compiled
for (let r = 0; r < RUNS; r++) for (const m of r % 2 ? [...modes].reverse() : modes) {
  const x = await job(m);
  results[m].push(x);
  console.log(`round ${r + 1} ${m.padEnd(9)}: ${x.seconds.toFixed(1)} s, coordinator CPU ${x.cpu.toFixed(2)} s, ${Math.round(x.commandsPerSec)} Redis commands/s (${x.commands})`);
}

const c0 = await commands();
const t0 = performance.now();
const text = await (await fetch(`${base}/metrics`)).text();
const scrapeMs = performance.now() - t0;
const scrapeCommands = (await commands()) - c0;
console.log(`\none /metrics scrape: ${scrapeMs.toFixed(0)} ms, ${scrapeCommands} Redis commands, ${text.length} bytes`);

const closed = results.closed;
const ref = { cpu: median(closed.map((x) => x.cpu)), commands: median(closed.map((x) => x.commands)) };
// Commands per job, not per second: a page open on this two-core machine slows the job (chromium
// takes CPU), which lowers the rate without any saving.
console.log(`\n${"mode".padEnd(10)} ${"job s".padStart(7)} ${"coord CPU s".padStart(11)} ${"vs closed".padStart(9)} ${"Redis cmds".padStart(10)} ${"vs closed".padStart(9)} ${"cmd/s".padStart(7)}`);
for (const m of modes) {
  const xs = results[m];
  const cpu = median(xs.map((x) => x.cpu));
  const cmds = median(xs.map((x) => x.commands));
  console.log(`${m.padEnd(10)} ${median(xs.map((x) => x.seconds)).toFixed(1).padStart(7)} ${cpu.toFixed(2).padStart(11)} ${`${((cpu / ref.cpu - 1) * 100).toFixed(1)}%`.padStart(9)} ` +
    `${Math.round(cmds).toString().padStart(10)} ${`${((cmds / ref.commands - 1) * 100).toFixed(1)}%`.padStart(9)} ${Math.round(median(xs.map((x) => x.commandsPerSec))).toString().padStart(7)}`);
}

await browser?.close();
coordinator.child.kill("SIGTERM");
worker.child.kill("SIGTERM");
await Promise.all([coordinator.exited, worker.exited]);
redis.disconnect();
redisProc.kill("SIGTERM");
rmSync(work, { recursive: true, force: true });
