/**
 * Hosts that share nothing but Redis and an object store (issue 19). Each host is a network
 * namespace joined to a bridge in the root namespace by a veth pair, with addresses from
 * 198.18.0.0/15 (reserved for benchmark tests, so never a real network's). A host's processes share
 * one mount namespace, held by an "anchor" process, where `localDir` is a tmpfs that no other host
 * and not the root namespace sees; the same path on every host, as on real machines. Each host has
 * its own hostname, and /etc/hosts names every host. Redis and s3rver run in the root namespace,
 * bound to the bridge address; so does a relay to a database that listens on loopback only (the
 * `database` option). Every host knows the others' link addresses for good (static neighbour
 * entries), so a host cut off never answers: no ARP failure tells its peers it is gone.
 *
 * Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN): `hostsUnavailable()` says why not, for skipIf.
 * Every process started here gets PDEATHSIG KILL (setpriv), so a crashed test leaves no process;
 * names carry the test process's pid, so parallel files never collide and create() removes the
 * namespaces and links of dead pids.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { freePort, startRedisServer, watch, type Proc } from "./cluster-harness.js";
import { CLI, REPO } from "./helpers.js";
import { startObjectStore, type ObjectStore } from "./object-store.js";

/** Runs a command to its end; throws with its stderr unless it succeeded. */
function sh(cmd: string, ...args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${(r.stderr || r.error?.message || "").trim()}`);
  return r.stdout;
}
const attempt = (cmd: string, ...args: string[]): void => void spawnSync(cmd, args);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

let probed: { reason: string | undefined } | undefined;

/** Why this machine cannot run Hosts (for `describe.skipIf`), or undefined when it can. */
export function hostsUnavailable(): string | undefined {
  if (probed) return probed.reason;
  const missing = ["ip", "unshare", "nsenter", "setpriv", "redis-server"].find((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
  let reason = missing && `${missing} is not installed`;
  if (!reason) {
    const ns = `sheaf-${process.pid}-probe`;
    const dir = mkdtempSync(join(tmpdir(), "sheaf-hosts-probe-"));
    const r = spawnSync("sh", ["-c", `ip netns add ${ns} && ip netns exec ${ns} unshare -m sh -c 'mount -t tmpfs tmpfs "$0"' ${dir}`], { encoding: "utf8" });
    attempt("ip", "netns", "del", ns);
    rmSync(dir, { recursive: true, force: true });
    if (r.status !== 0) reason = `ip netns add or a tmpfs mount refused (needs root, CAP_NET_ADMIN and CAP_SYS_ADMIN): ${r.stderr.trim()}`;
  }
  probed = { reason: reason && `multi-host tests skipped: ${reason}` };
  if (reason) console.warn(probed.reason);
  return probed.reason;
}

/** Deletes the namespaces, links, /etc/netns folders and scratch of Hosts whose test process is gone. */
function removeStale(): void {
  const deadPid = (s: string | undefined, radix: number) => s !== undefined && !alive(parseInt(s, radix));
  for (const line of sh("ip", "netns", "list").split("\n")) {
    const ns = line.split(" ")[0]!;
    if (!deadPid(/^sheaf-(\d+)-/.exec(ns)?.[1], 10)) continue;
    for (const pid of sh("ip", "netns", "pids", ns).split("\n").filter(Boolean)) attempt("kill", "-KILL", pid);
    attempt("ip", "netns", "del", ns);
  }
  for (const line of sh("ip", "-o", "link", "show").split("\n")) {
    const link = /^\d+: ([^:@]+)/.exec(line)?.[1];
    if (link && deadPid(/^sh[bv]-([0-9a-z]+)-/.exec(link)?.[1], 36)) attempt("ip", "link", "del", link);
  }
  for (const dir of existsSync("/etc/netns") ? readdirSync("/etc/netns", { withFileTypes: true }) : []) {
    if (deadPid(/^sheaf-(\d+)-/.exec(dir.name)?.[1], 10)) rmSync(join("/etc/netns", dir.name), { recursive: true, force: true });
  }
  for (const dir of readdirSync(tmpdir())) {
    if (deadPid(/^sheaf-hosts-(\d+)-/.exec(dir)?.[1], 10)) rmSync(join(tmpdir(), dir), { recursive: true, force: true });
  }
}

/**
 * Gives the bridge a /24 of 198.18.0.0/15 that no other interface uses (a parallel test file's
 * bridge): two bridges on one subnet would route replies to the wrong one. 198.18.0.0/24 first.
 */
function claimSubnet(bridge: string): string {
  const othersIn = (prefix: string) =>
    sh("ip", "-4", "-o", "addr", "show").split("\n").some((l) => !l.includes(` ${bridge} `) && l.includes(` inet ${prefix}`));
  for (let tries = 0; tries < 64; tries++) {
    const k = tries === 0 ? 0 : Math.floor(Math.random() * 512);
    const prefix = `198.${18 + (k >> 8)}.${k & 255}.`;
    if (othersIn(prefix)) continue;
    sh("ip", "addr", "add", `${prefix}1/24`, "dev", bridge);
    if (!othersIn(prefix)) return prefix; // re-checked: a file that claimed it at the same time backs off too
    sh("ip", "addr", "del", `${prefix}1/24`, "dev", bridge);
  }
  throw new Error("no free /24 in 198.18.0.0/15");
}

let created = 0;

export interface HostsOptions {
  /** tmpfs size of each host's local dir (only what is written counts against memory). */
  localDirSize?: string;
  /**
   * A database URL the root namespace reaches (PostgreSQL on 127.0.0.1:5432, say) for the hosts to
   * reach too: a TCP relay on the bridge address forwards to its host and port, and every host gets
   * `DATABASE_URL`, this URL with the relay's address (`Hosts.databaseUrl`). @defaultValue none
   */
  database?: string;
}

const RELAY = join(REPO, "test/integration/tcp-relay.mjs");

/** Starts tcp-relay.mjs on `address` (a free port) to `target`'s host and port; resolves with its port. */
async function startRelay(address: string, target: URL): Promise<{ proc: ChildProcess; port: number }> {
  const port = target.port || "5432";
  // Its stdin is a pipe: the relay ends when the test process does.
  const proc = spawn(process.execPath, [RELAY, address, target.hostname.replace(/^\[|\]$/g, ""), port], { stdio: ["pipe", "pipe", "pipe"] });
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  const line = await Promise.race([once(createInterface({ input: proc.stdout! }), "line").then(([l]) => l as string), once(proc, "exit").then(() => undefined)]);
  if (line === undefined) throw new Error(`tcp relay to ${target.host} did not start: ${err.trim()}`);
  return { proc, port: (JSON.parse(line) as { port: number }).port };
}

export class Host {
  /** Every process spawn() started on this host. */
  readonly procs: Proc[] = [];
  private anchor: ChildProcess | undefined;

  constructor(
    private readonly net: Hosts,
    /** The hostname its processes see, in every host's /etc/hosts. */
    readonly name: string,
    /** The network namespace (`ip netns exec NS ...` reaches it by hand). */
    readonly ns: string,
    /** The root-namespace end of its veth pair, on the bridge: cut() takes it down. */
    readonly link: string,
    readonly address: string,
    /** A private tmpfs at the same path on every host; empty in the root namespace. */
    readonly localDir: string,
  ) {}

  /** Boots the host: a fresh anchor, so a fresh, empty tmpfs at localDir (after kill(), a reboot). */
  async start(): Promise<void> {
    if (this.anchor && this.anchor.exitCode === null && this.anchor.signalCode === null) return;
    const script = `mount -t tmpfs -o size=${this.net.localDirSize} tmpfs "$0" && mkdir "$0/tmp" && hostname "$1" && echo ready && exec sleep infinity`;
    const anchor = spawn("setpriv", ["--pdeathsig", "KILL", "--", "ip", "netns", "exec", this.ns, "unshare", "-m", "-u", "--propagation", "private", "sh", "-c", script, this.localDir, this.name], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    anchor.stderr!.on("data", (d) => (err += d));
    const ready = await Promise.race([once(createInterface({ input: anchor.stdout! }), "line").then(() => true), once(anchor, "exit").then(() => false)]);
    if (!ready) throw new Error(`host ${this.name} did not boot: ${err.trim()}`);
    this.anchor = anchor;
  }

  /**
   * Runs a command on this host: its network, its hostname, its localDir. The environment is the
   * test's, then `net.env` (Redis and the store), TMPDIR in localDir (so os.tmpdir() is private too),
   * then `env`.
   */
  spawn(cmd: string, args: string[], env: Record<string, string> = {}, cwd = REPO): Proc {
    const pid = this.anchor?.pid;
    if (!pid || this.anchor!.exitCode !== null || this.anchor!.signalCode !== null) throw new Error(`host ${this.name} is down: start() it`);
    const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", "nsenter", "-t", String(pid), "-m", "-u", "-n", `--wd=${cwd}`, "--", cmd, ...args], {
      env: { ...process.env, FORCE_COLOR: "0", ...this.net.env, TMPDIR: join(this.localDir, "tmp"), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const proc = watch(child);
    this.procs.push(proc);
    return proc;
  }

  /** `sheaf <args>` on this host. */
  sheaf(args: string[], env: Record<string, string> = {}): Proc {
    return this.spawn(process.execPath, [CLI, ...args], env);
  }

  /** A lost host: SIGKILLs every process in its namespace (children too) and so drops its tmpfs. */
  async kill(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const pids = sh("ip", "netns", "pids", this.ns).split("\n").filter(Boolean);
      if (!pids.length) break;
      if (Date.now() > deadline) throw new Error(`host ${this.name}: processes ${pids.join(" ")} survived SIGKILL`);
      for (const pid of pids) attempt("kill", "-KILL", pid);
      await new Promise((r) => setTimeout(r, 20));
    }
    await Promise.all([...this.procs.map((p) => p.exited), this.anchor && this.anchor.exitCode === null && this.anchor.signalCode === null ? once(this.anchor, "exit") : undefined]);
  }

  /**
   * Pulls the cable: the link goes down; open connections hang (no reset) and new ones are never
   * answered (not even refused), as on a partition.
   */
  cut(): void {
    sh("ip", "link", "set", this.link, "down");
  }

  heal(): void {
    sh("ip", "link", "set", this.link, "up");
  }
}

export class Hosts {
  readonly hosts: Host[] = [];
  /** Redis and the store listen here; the root namespace's address on the bridge. */
  bridgeAddress = "";
  redisUrl = "";
  store: ObjectStore | undefined;
  /** With the `database` option: that URL through the relay, as the hosts reach it. */
  databaseUrl = "";
  /** SHEAF_REDIS_URL, the store's AWS variables and DATABASE_URL (with `database`), for every process on a host. */
  env: Record<string, string> = {};
  private redis: ChildProcess | undefined;
  private relay: ChildProcess | undefined;
  private destroyed = false;
  private readonly onExit = () => this.removeNetwork();

  private constructor(
    /** Scratch folder in the root namespace: the store's objects and the local dirs' mount point. */
    readonly root: string,
    readonly bridge: string,
    readonly localDirSize: string,
  ) {}

  /** n hosts named host0..host{n-1} on a fresh bridge, with Redis and s3rver beside it. */
  static async create(name: string, n: number, options: HostsOptions = {}): Promise<Hosts> {
    const reason = hostsUnavailable();
    if (reason) throw new Error(reason);
    removeStale();
    const seq = (created++ % 36).toString(36);
    const tag = `${process.pid.toString(36)}-${seq}`; // interface names are at most 15 bytes
    const slug = name.replace(/[^a-zA-Z0-9]/g, "").slice(0, 16);
    const net = new Hosts(mkdtempSync(join(tmpdir(), `sheaf-hosts-${process.pid}-${slug}-`)), `shb-${tag}`, options.localDirSize ?? "2g");
    process.once("exit", net.onExit); // a test that never reached destroy(): still no namespace left
    try {
      sh("ip", "link", "add", "name", net.bridge, "type", "bridge");
      const prefix = claimSubnet(net.bridge);
      sh("ip", "link", "set", net.bridge, "up");
      net.bridgeAddress = `${prefix}1`;
      const localDir = join(net.root, "local");
      mkdirSync(localDir);
      const names = Array.from({ length: n }, (_, i) => `host${i}`);
      const hostsFile = ["127.0.0.1 localhost", `${net.bridgeAddress} services`, ...names.map((h, i) => `${prefix}${11 + i} ${h}`)].join("\n") + "\n";
      for (const [i, hostname] of names.entries()) {
        const ns = `sheaf-${process.pid}-${seq}-${slug}-${i}`;
        const link = `shv-${tag}-${i}`;
        sh("ip", "netns", "add", ns);
        const host = new Host(net, hostname, ns, link, `${prefix}${11 + i}`, localDir);
        net.hosts.push(host); // from here on destroy() removes it
        // `ip netns exec` binds the files of /etc/netns/NS over /etc: the host's own /etc/hosts.
        mkdirSync(`/etc/netns/${ns}`, { recursive: true });
        writeFileSync(`/etc/netns/${ns}/hosts`, hostsFile);
        sh("ip", "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns);
        sh("ip", "link", "set", link, "master", net.bridge, "up");
        sh("ip", "-n", ns, "addr", "add", `${prefix}${11 + i}/24`, "dev", "eth0");
        sh("ip", "-n", ns, "link", "set", "eth0", "up");
        sh("ip", "-n", ns, "link", "set", "lo", "up");
      }
      const macs = net.hosts.map((h) => (JSON.parse(sh("ip", "-n", h.ns, "-j", "link", "show", "eth0")) as { address: string }[])[0]!.address);
      for (const h of net.hosts) {
        for (const [j, peer] of net.hosts.entries()) {
          if (peer !== h) sh("ip", "-n", h.ns, "neigh", "replace", peer.address, "lladdr", macs[j]!, "dev", "eth0", "nud", "permanent");
        }
      }
      await Promise.all(net.hosts.map((h) => h.start()));
      const redis = await startRedisServer(net.bridgeAddress, await freePort(), ["--save", "", "--appendonly", "no", "--protected-mode", "no"], true);
      net.redis = redis.proc;
      net.redisUrl = redis.url;
      net.store = await startObjectStore(join(net.root, "s3"), { address: net.bridgeAddress });
      net.env = { SHEAF_REDIS_URL: net.redisUrl, ...net.store.env };
      if (options.database) {
        const url = new URL(options.database);
        const relay = await startRelay(net.bridgeAddress, url);
        net.relay = relay.proc;
        url.hostname = net.bridgeAddress;
        url.port = String(relay.port);
        net.databaseUrl = url.href;
        net.env.DATABASE_URL = net.databaseUrl;
      }
      return net;
    } catch (err) {
      await net.destroy();
      throw err;
    }
  }

  /**
   * Ends everything: SIGTERM to what spawn() started (SIGKILL after 5 s), then every process left on
   * a host, Redis, the store, the relay, the namespaces, links, bridge, /etc/netns entries and the
   * scratch folder.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const procs = this.hosts.flatMap((h) => h.procs).filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    for (const p of procs) p.child.kill("SIGTERM");
    await Promise.race([Promise.all(procs.map((p) => p.exited)), new Promise((r) => setTimeout(r, 5_000))]);
    await Promise.all(this.hosts.map((h) => h.kill()));
    for (const p of [this.redis, this.relay]) {
      if (!p || p.exitCode !== null || p.signalCode !== null) continue;
      p.kill("SIGKILL");
      await once(p, "exit");
    }
    await this.store?.stop();
    this.removeNetwork();
    process.off("exit", this.onExit);
    rmSync(this.root, { recursive: true, force: true });
  }

  /**
   * Synchronous, so it also runs from process 'exit'. Each veth pair is deleted by hand: the kernel
   * frees a deleted namespace, and the pair with it, only later.
   */
  private removeNetwork(): void {
    for (const { ns, link } of this.hosts) {
      attempt("ip", "link", "del", link);
      for (const pid of spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout?.split("\n").filter(Boolean) ?? []) attempt("kill", "-KILL", pid);
      attempt("ip", "netns", "del", ns);
      rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
    }
    attempt("ip", "link", "del", this.bridge);
  }
}
