// A private Redis and the processes of one local cluster (coordinator, workers, submits), and
// /proc sampling of a process's memory and CPU: shared by cluster.mjs and coordinator-memory.mjs.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { freePort } from "./etl-common.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = `${root}cli/bin.mjs`;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Samples a process's resident memory and CPU from /proc (Linux) until stop(): peak RSS in MB, and
 * CPU seconds (user + system) used between start and stop.
 */
export function watchProcess(pid) {
  const stat = () => {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks (100 Hz)
    } catch { return NaN; }
  };
  const rss = () => {
    try { return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024; } catch { return 0; }
  };
  const cpu0 = stat();
  let peak = rss();
  const timer = setInterval(() => (peak = Math.max(peak, rss())), 100);
  return { stop: () => { clearInterval(timer); return { peakRssMb: Math.max(peak, rss()), cpuSeconds: stat() - cpu0 }; } };
}

/** A private redis-server and the processes of one cluster, all stopped by stop(). */
export class LocalCluster {
  procs = new Set();
  /** `work`: the cluster's SHEAF_WORKDIR. */
  constructor(work) {
    this.work = work;
  }
  async start() {
    this.port = await freePort();
    this.url = `redis://127.0.0.1:${this.port}`;
    this.redis = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    for (let i = 0; ; i++) {
      const probe = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on("error", () => {});
      const ok = await probe.connect().then(() => true, () => false);
      probe.disconnect();
      if (ok) break;
      if (i > 100) throw new Error("redis-server did not start");
      await sleep(50);
    }
  }
  spawn(args, ready, nodeArgs = []) {
    const child = spawn(process.execPath, [...nodeArgs, cli, ...args], { cwd: root, env: { ...process.env, SHEAF_REDIS_URL: this.url, SHEAF_WORKDIR: this.work }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.output = () => out;
    this.procs.add(child);
    child.on("exit", () => this.procs.delete(child));
    if (!ready) return child;
    return (async () => {
      while (!out.includes(ready)) {
        if (child.exitCode !== null) throw new Error(`${args[0]} exited: ${out}`);
        await sleep(20);
      }
      return child;
    })();
  }
  /** `nodeArgs`: Node's own options. BENCH_PROFILE_DIR: the coordinator writes a CPU profile there when it stops. */
  coordinator(args = [], nodeArgs = []) {
    const dir = process.env.BENCH_PROFILE_DIR;
    return this.spawn(["coordinator", ...args], "leader (epoch", [...nodeArgs, ...(dir ? ["--cpu-prof", "--cpu-prof-dir", dir] : [])]);
  }
  /** BENCH_PROFILE_DIR: workers too (a profile per thread). */
  worker(threads = 1) {
    const dir = process.env.BENCH_PROFILE_DIR;
    return this.spawn(["worker", "--threads", String(threads)], "worker: ready", dir ? ["--cpu-prof", "--cpu-prof-dir", dir] : []);
  }
  /** Submits and waits; resolves with the job's report (from Redis) and the whole command's seconds. */
  async submit(args) {
    const started = performance.now();
    const child = this.spawn(["submit", ...args, "--wait", "-q"]);
    const [code] = await once(child, "exit");
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`submit failed: ${child.output()}`);
    const id = child.output().trim().split("\n")[0];
    const client = new Redis(this.url);
    const report = JSON.parse(await client.hget(`sheaf:job:${id}`, "progress"));
    client.disconnect();
    return { seconds, report };
  }
  async stop() {
    await Promise.all([...this.procs].map(async (p) => { p.kill("SIGTERM"); await once(p, "exit"); }));
    this.redis.kill();
    await once(this.redis, "exit");
  }
}
