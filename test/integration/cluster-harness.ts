/**
 * A private cluster for one test file: its own redis-server on a free loopback port (so fault tests
 * may kill and restart it), and real coordinator and worker processes. `assertNoLeaks()` fails a
 * test that left a process or a Redis connection behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { Redis } from "ioredis";
import { CLI, REPO } from "./helpers.js";

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, "close");
  return port;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let failure: unknown;
    const value = await probe().catch((err) => void (failure = err));
    if (failure instanceof Error && failure.message.startsWith("redis-server exited")) throw failure;
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts redis-server bound to `host` (loopback for a Cluster, a bridge address for Hosts) and
 * resolves once it answers PING; rejects with its log if it exits first. `dieWithTest` needs setpriv.
 */
export async function startRedisServer(host: string, port: number, args: string[] = [], dieWithTest = false): Promise<{ proc: ChildProcess; url: string; output: () => string }> {
  const url = `redis://${host}:${port}`;
  const argv = ["redis-server", "--port", String(port), "--bind", host, ...args];
  // setpriv execs redis-server with PDEATHSIG KILL (same pid): gone when the test process dies.
  if (dieWithTest) argv.unshift("setpriv", "--pdeathsig", "KILL", "--");
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  proc.stdout!.on("data", (d) => (log = (log + d).slice(-4000)));
  proc.stderr!.on("data", (d) => (log = (log + d).slice(-4000)));
  await waitFor(`redis-server on ${host}:${port}`, async () => {
    if (proc.exitCode !== null) throw new Error(`redis-server exited ${proc.exitCode}: ${log}`);
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    // Refused until the server listens: that is what we wait for. One started with --requirepass
    // answers NOAUTH (reported here, the connect then failing): up all the same.
    let noauth = false;
    probe.on("error", (err: Error) => (noauth ||= err.message.includes("NOAUTH")));
    try {
      await probe.connect();
      return (await probe.ping()) === "PONG" ? true : undefined;
    } catch (err) {
      if (noauth || (err as Error).message.includes("NOAUTH")) return true;
      throw err;
    } finally {
      probe.disconnect();
    }
  }).catch((err: unknown) => {
    proc.kill("SIGKILL"); // a server that never answered must not outlive the failed start
    throw err;
  });
  return { proc, url, output: () => log };
}

export interface Proc {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

/** Collects a child's stdout and stderr as one text and its end as a promise. */
export function watch(child: ChildProcess): Proc {
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | string>((resolve) => child.on("exit", (code, sig) => resolve(code ?? sig ?? -1)));
  return { child, output: () => out, exited };
}

export class Cluster {
  readonly procs: Proc[] = [];
  /** Processes that ignored SIGTERM for 10 s and had to be killed: a shutdown bug. */
  private readonly stuck: string[] = [];
  private readonly clients: Redis[] = [];
  private redisProc: ChildProcess | undefined;
  port = 0;

  constructor(readonly workdir: string, readonly redisArgs: string[] = ["--save", "", "--appendonly", "no"]) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async startRedis(): Promise<void> {
    this.port ||= await freePort();
    this.redisProc = (await startRedisServer("127.0.0.1", this.port, this.redisArgs)).proc;
  }

  async killRedis(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const p = this.redisProc;
    if (!p || p.exitCode !== null) return;
    const gone = once(p, "exit");
    p.kill(signal);
    await gone;
  }

  /** Pauses (SIGSTOP) or continues (SIGCONT) redis-server: it keeps its connections but answers nothing. */
  signalRedis(signal: "SIGSTOP" | "SIGCONT"): void {
    this.redisProc?.kill(signal);
  }

  /** A client for the test itself; closed by stop(). */
  client(): Redis {
    const c = new Redis(this.url, { maxRetriesPerRequest: null });
    c.on("error", () => {}); // refused while a fault test has Redis down; commands wait for the reconnect
    this.clients.push(c);
    return c;
  }

  /** Spawns `sheaf <args>` against this cluster's Redis. */
  spawn(args: string[], env: Record<string, string> = {}): Proc {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO,
      env: { ...process.env, SHEAF_REDIS_URL: this.url, SHEAF_WORKDIR: this.workdir, FORCE_COLOR: "0", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const proc = watch(child);
    this.procs.push(proc);
    return proc;
  }

  /** A coordinator, once it holds the lease (or is standing by, with `standby`). */
  async coordinator(extra: string[] = [], standby = false, env: Record<string, string> = {}): Promise<Proc> {
    const p = this.spawn(["coordinator", "--lease", "2000", ...extra], env);
    await waitFor("the coordinator", async () => (p.output().includes(standby ? "waiting for the leader lease" : "leader (epoch") ? true : undefined));
    return p;
  }

  async worker(threads = 1, extra: string[] = [], env: Record<string, string> = {}): Promise<Proc> {
    const p = this.spawn(["worker", "--threads", String(threads), "--lock", "3000", ...extra], env);
    await waitFor("a worker", async () => (p.output().includes("worker: ready") ? true : undefined));
    return p;
  }

  /** Runs a CLI command to its end (`submit --wait`, `status`, `cancel`). */
  async run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | string; output: string; stdout: string }> {
    const p = this.spawn(args, env);
    let stdout = "";
    p.child.stdout!.on("data", (d) => (stdout += d));
    const code = await p.exited;
    return { code, output: p.output(), stdout };
  }

  /** Stops every process (SIGTERM, then SIGKILL after a grace period), Redis last, and closes the clients. */
  async stop(): Promise<void> {
    await Promise.all(
      this.procs.map(async (p) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) return;
        p.child.kill("SIGTERM");
        const timer = setTimeout(() => {
          this.stuck.push(p.child.spawnargs.slice(2).join(" "));
          p.child.kill("SIGKILL");
        }, 10_000);
        await p.exited;
        clearTimeout(timer);
      }),
    );
    // A client still connecting ends only after its 'end' event: wait for it (bounded), or the leak check races it.
    await Promise.all(
      this.clients.map((c) =>
        c.status === "end" ? undefined : new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2_000);
          c.once("end", () => { clearTimeout(timer); resolve(); });
          c.disconnect();
        }),
      ),
    );
    await this.killRedis("SIGTERM");
  }

  /** Throws if a process or a client outlived stop(). */
  assertNoLeaks(): void {
    if (this.stuck.length) throw new Error(`processes that did not exit on SIGTERM: ${this.stuck.join("; ")}`);
    const alive = this.procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    if (alive.length) throw new Error(`leaked processes: ${alive.map((p) => p.child.spawnargs.slice(2).join(" ")).join("; ")}`);
    const open = this.clients.filter((c) => c.status !== "end");
    if (open.length) throw new Error(`leaked Redis connections: ${open.length}`);
    if (this.redisProc && this.redisProc.exitCode === null && this.redisProc.signalCode === null) throw new Error("leaked redis-server");
    // Node warns when listeners pile up on one emitter or signal: a leak (one per poll, say) in a process here.
    const warned = this.procs.filter((p) => p.output().includes("MaxListenersExceededWarning"));
    if (warned.length) throw new Error(`listener leak warned by: ${warned.map((p) => p.child.spawnargs.slice(2).join(" ")).join("; ")}`);
  }
}
