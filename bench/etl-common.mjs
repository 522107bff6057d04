// Shared by the ETL benchmarks (etl-groupby.mjs, etl-csv-parquet.mjs): paths, sizes, DuckDB, and
// timing one contender as a whole process with its peak RSS and the machine's load from others.
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("..", import.meta.url));
/** Generated inputs, outputs and work folders (bench/data/ is git-ignored). */
export const data = `${root}bench/data/etl`;
export const cli = `${root}cli/bin.mjs`;
const TIME = "/usr/bin/time";

export function fail(message) {
  console.error(`bench: FAILED: ${message}`);
  process.exit(1);
}

/** `256m`, `1g`, `1.5g` or bytes → bytes (k, m, g are powers of 1024). */
export function parseSize(name, text) {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)i?b?$/i.exec(String(text).trim());
  if (!m) fail(`${name}: expected a size like 100m or 1g, got ${JSON.stringify(text)}`);
  return Math.round(Number(m[1]) * 1024 ** " kmg".indexOf(m[2].toLowerCase() || " "));
}

export function positiveInt(name, fallback) {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(v) || v < 1) fail(`${name}: expected a positive integer, got ${process.env[name]}`);
  return v;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return (s[s.length >> 1] + s[(s.length - 1) >> 1]) / 2;
}

/** A free loopback TCP port (listened on, then closed). */
export async function freePort() {
  const { createServer } = await import("node:net");
  const { once } = await import("node:events");
  const s = createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = s.address().port;
  s.close();
  await once(s, "close");
  return port;
}

export const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** A fresh in-memory DuckDB connection (for generating and checking data, never timed). */
export async function duckdb() {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const db = await DuckDBInstance.create(":memory:");
  return db.connect();
}

/** A SQL string literal. */
export const sqlString = (s) => `'${String(s).replaceAll("'", "''")}'`;

/** Creates `path` with `write(tmpPath)` unless it exists; a half-written file is never reused. Returns true when it generated. */
export async function ensureFile(path, write) {
  if (existsSync(path)) return false;
  mkdirSync(data, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await write(tmp);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  return true;
}

/** Reads a file once (warming the page cache, so every contender reads from memory); returns its size. */
export function readOnce(path) {
  const fd = openSync(path, "r"), buf = Buffer.allocUnsafe(16 << 20);
  let total = 0;
  for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) total += n;
  closeSync(fd);
  return total;
}

/** CPU seconds used by every process on the machine so far; iowait counts as idle. */
export function machineCpuSeconds() {
  return cpus().reduce((sum, { times: t }) => sum + t.user + t.nice + t.sys + t.irq, 0) / 1000;
}

/** User + system CPU seconds of this process's finished children (Linux: /proc; else NaN). */
export function childrenCpuSeconds() {
  try {
    const fields = readFileSync("/proc/self/stat", "latin1").split(") ")[1].split(" ");
    return (Number(fields[13]) + Number(fields[14])) / 100; // cutime + cstime, in USER_HZ = 100 ticks
  } catch {
    return NaN;
  }
}

/** Warns when other processes keep the CPUs busy before we start. */
export function checkIdle() {
  const at = performance.now(), machine = machineCpuSeconds();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  const busy = (machineCpuSeconds() - machine) / (((performance.now() - at) / 1000) * cpus().length);
  if (busy > 0.1) console.log(`warning: other processes use ${(busy * 100).toFixed(0)}% of the CPUs; timings will be noisy`);
}

/**
 * Runs `node args…` in cwd=root as one whole process and measures it: wall seconds, CPU seconds
 * (user + system), peak RSS (bytes) and the share of the CPUs other processes used meanwhile.
 * Peak RSS comes from GNU time (`%M`, the process's ru_maxrss: every thread of it counts); without
 * /usr/bin/time, from polling /proc/<pid>/status VmHWM every 10 ms. Fails the benchmark on a non-zero exit.
 * `command` runs another program than node (e.g. GNU sort); `env` adds environment variables.
 */
export async function measure(name, args, { command = process.execPath, env } = {}) {
  mkdirSync(data, { recursive: true });
  const rssFile = `${data}/.rss-${process.pid}`;
  const useTime = existsSync(TIME);
  const [cmd, argv] = useTime ? [TIME, ["-f", "%M", "-o", rssFile, command, ...args]] : [command, args];
  const at = performance.now(), machine = machineCpuSeconds(), cpu0 = childrenCpuSeconds();
  let stderr = "", hwm = 0;
  const child = spawn(cmd, argv, { cwd: root, stdio: ["ignore", "inherit", "pipe"], env: env ? { ...process.env, ...env } : process.env });
  child.stderr.on("data", (d) => (stderr += d));
  const poll = useTime ? undefined : setInterval(() => {
    try {
      const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "latin1"))?.[1] ?? 0);
      hwm = Math.max(hwm, kb * 1024);
    } catch {
      // exited
    }
  }, 10);
  const status = await new Promise((resolve) => child.on("close", (code, signal) => resolve(code ?? signal)));
  clearInterval(poll);
  const seconds = (performance.now() - at) / 1000, cpu = childrenCpuSeconds() - cpu0;
  if (status !== 0) fail(`${name} exited with ${status}:\n${stderr.trim()}`);
  if (stderr.trim()) process.stderr.write(stderr);
  let rss = hwm;
  if (useTime) {
    rss = Number(readFileSync(rssFile, "latin1").trim().split("\n").at(-1)) * 1024;
    rmSync(rssFile, { force: true });
  }
  const others = Math.max(0, machineCpuSeconds() - machine - cpu) / (seconds * cpus().length);
  return { seconds, cpu, rss, others };
}

/** Removes a path (output folders of earlier runs). */
export function clean(path) {
  rmSync(path, { recursive: true, force: true });
}

/** The `sheaf run` arguments for a job, quiet, with its work folder under bench/data/etl. */
export function sheafArgs(job, input, output, threads, extra = []) {
  return [cli, "run", `${root}bench/jobs/${job}`, "--input", input, "--output", output, "--threads", String(threads),
    "--overwrite", "-q", "--workdir", `${data}/sheaf-work`, ...extra];
}

/** Fails unless the engine is built (the benchmarks run dist/, as `sheaf` does). */
export function checkBuilt() {
  if (!existsSync(`${root}dist/cli/main.js`)) fail("sheaf is not built: run `npm run build` (npm run bench:etl does)");
}

/**
 * Runs each contender `runs` times, in turn, recording seconds, CPU, peak RSS and the share of the
 * CPUs other processes used; `check(contenders)` verifies the outputs after each round. Returns the
 * largest share other processes took during a run.
 */
export async function runRounds(contenders, runs, check) {
  const width = Math.max(...contenders.map((c) => c.name.length));
  let noisiest = 0;
  for (let run = 1; run <= runs; run++) {
    for (const c of contenders) {
      clean(c.output);
      const m = await measure(c.name, c.args(c.output), { command: c.command, env: c.env });
      for (const k of ["seconds", "cpu", "rss", "others"]) (c[k] ??= []).push(m[k]);
      noisiest = Math.max(noisiest, m.others);
      console.log(`  run ${run}: ${c.name.padEnd(width)} ${m.seconds.toFixed(2).padStart(7)} s, ${m.cpu.toFixed(2).padStart(7)} s of CPU, ` +
        `peak RSS ${mib(m.rss).padStart(8)}; others used ${(m.others * 100).toFixed(0)}% of the CPUs`);
    }
    await check(contenders);
  }
  return noisiest;
}

/**
 * s3rver on loopback (a child process) holding `file` as s3://bench/<its name>: `url`, the AWS SDK
 * variables that reach it (`env`), and `stop()`.
 */
export async function startStore(directory, file) {
  const { CreateBucketCommand, PutObjectCommand, S3Client } = await import("@aws-sdk/client-s3");
  mkdirSync(directory, { recursive: true });
  // s3rver's listing tokens use DES, which OpenSSL 3 keeps in its legacy provider.
  const child = spawn(process.execPath, ["--openssl-legacy-provider", `${root}test/integration/s3rver-runner.mjs`, "127.0.0.1", "0", directory], { stdio: ["pipe", "pipe", "inherit"] });
  const line = await new Promise((resolve, reject) => {
    child.stdout.once("data", (d) => resolve(String(d)));
    child.once("exit", (code) => reject(new Error(`s3rver exited (${code})`)));
  });
  const endpoint = `http://127.0.0.1:${JSON.parse(line).port}`;
  const env = {
    AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_S3: endpoint,
    AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED", AWS_RESPONSE_CHECKSUM_VALIDATION: "WHEN_REQUIRED", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
  const client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }, requestChecksumCalculation: "WHEN_REQUIRED" });
  await client.send(new CreateBucketCommand({ Bucket: "bench" })).catch(() => {});
  const key = file.split("/").at(-1);
  await client.send(new PutObjectCommand({ Bucket: "bench", Key: key, Body: readFileSync(file) }));
  client.destroy();
  return { url: `s3://bench/${key}`, env, stop: async () => void child.kill("SIGTERM") };
}
