/**
 * The cluster a chaos run disturbs: its own redis-server (append-only file, appendfsync everysec),
 * two coordinators (a leader and a standby) and two workers, each in a slot that the faults kill,
 * stop and restart; a sampler of the AOF's size, so a fault can cut its last second as a crash
 * would; and a small tmpfs (the cluster's workdir and the overwrite workload's output) that a fault
 * fills up.
 */
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, truncateSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { Cluster, type Proc } from "../integration/cluster-harness.js";
import type { Report } from "./report.js";

export interface Slot {
  name: string;
  role: "coordinator" | "worker";
  proc: Proc;
  /** Set while a fault has it SIGSTOPped. */
  stopped: boolean;
  /** Set when a fault killed it, so its exit is not reported as a crash. */
  killed: boolean;
}

const live = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null;

export class ChaosCluster {
  readonly cluster: Cluster;
  readonly slots: Slot[] = [];
  redis!: Redis;
  redisUp = true;
  /** Unexpected process exits (a crash is a finding even when the outputs come out right). */
  readonly crashes: string[] = [];
  private samples: { t: number; file: string; size: number }[] = [];
  private sampler: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(
    readonly workdir: string,
    readonly redisDir: string,
    private readonly report: Report,
    private readonly env: Record<string, string>,
  ) {
    mkdirSync(redisDir, { recursive: true });
    this.cluster = new Cluster(workdir, [
      "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--dir", redisDir,
      "--auto-aof-rewrite-percentage", "0", "--aof-load-truncated", "yes",
    ]);
  }

  async start(): Promise<void> {
    await this.cluster.startRedis();
    this.redis = this.cluster.client();
    this.adopt("coordinator", "c0", await this.cluster.coordinator([], false, this.env));
    this.adopt("coordinator", "c1", await this.cluster.coordinator([], true, this.env));
    this.adopt("worker", "w0", await this.cluster.worker(2, [], this.env));
    this.adopt("worker", "w1", await this.cluster.worker(2, [], this.env));
    this.sampler = setInterval(() => this.sampleAof(), 100);
  }

  private adopt(role: Slot["role"], name: string, proc: Proc): void {
    const existing = this.slots.find((s) => s.name === name);
    const slot: Slot = existing ?? { name, role, proc, stopped: false, killed: false };
    Object.assign(slot, { proc, stopped: false, killed: false });
    if (!existing) this.slots.push(slot);
    void proc.exited.then((how) => {
      if (slot.proc !== proc || slot.killed || this.closing) return;
      const tail = proc.output().split("\n").slice(-15).join("\n");
      this.crashes.push(`${name} exited by itself (${how}) at ${this.report.offset()}:\n${tail}`);
      this.report.note(`${name} (${role}) exited by itself (${how}); restarted. Its last output:\n${tail}`);
      setTimeout(() => void this.respawn(slot), 500);
    });
  }

  /** A new process in the slot (no waiting for it to be ready: Redis may be down). */
  respawn(slot: Slot): void {
    if (this.closing) return;
    const args = slot.role === "coordinator" ? ["coordinator", "--lease", "2000"] : ["worker", "--threads", "2", "--lock", "3000"];
    this.adopt(slot.role, slot.name, this.cluster.spawn(args, this.env));
  }

  async kill(slot: Slot): Promise<void> {
    slot.killed = true;
    if (live(slot.proc)) {
      slot.proc.child.kill("SIGKILL");
      await slot.proc.exited;
    }
  }

  signal(slot: Slot, sig: "SIGSTOP" | "SIGCONT"): void {
    slot.stopped = sig === "SIGSTOP";
    if (live(slot.proc)) slot.proc.child.kill(sig);
  }

  /** The coordinator slot whose process holds the lease now, by its log (the last leadership line wins). */
  leader(): Slot | undefined {
    let best: { slot: Slot; at: number } | undefined;
    for (const s of this.slots.filter((x) => x.role === "coordinator" && live(x.proc))) {
      const out = s.proc.output();
      const lead = out.lastIndexOf("leader (epoch");
      const lost = Math.max(out.lastIndexOf("waiting for the leader lease"), out.lastIndexOf("lost the leader lease"));
      if (lead > lost && (!best || lead > best.at)) best = { slot: s, at: lead };
    }
    return best?.slot;
  }

  // -------------------------------------------------------------------------------------------
  // Redis and its append-only file

  /** The AOF file Redis appends to now (the manifest's last incremental file). */
  private aofFile(): string | undefined {
    const dir = join(this.redisDir, "appendonlydir");
    const manifest = join(dir, "appendonly.aof.manifest");
    if (!existsSync(manifest)) return undefined;
    const incr = readFileSync(manifest, "utf8").split("\n").filter((l) => / type i\b/.test(l)).map((l) => /^file (\S+)/.exec(l)?.[1]).filter(Boolean);
    return incr.length ? join(dir, incr.at(-1)!) : undefined;
  }

  private sampleAof(): void {
    if (!this.redisUp) return;
    try {
      const file = this.aofFile();
      if (!file) return;
      const now = Date.now();
      this.samples.push({ t: now, file, size: statSync(file).size });
      while (this.samples.length && this.samples[0]!.t < now - 5_000) this.samples.shift();
    } catch {
      // rewritten under us: the next sample sees the new file
    }
  }

  /** SIGKILLs Redis; with `loseLastSecond`, cuts the AOF back to its size of a second before, as a crash before the next fsync would. */
  async killRedis(loseLastSecond: boolean): Promise<{ note: string; cutFrom?: number }> {
    this.sampleAof();
    const at = Date.now();
    this.redisUp = false;
    await this.cluster.killRedis("SIGKILL");
    // Sizes from before this crash are no "last second" of the next one.
    if (!loseLastSecond) {
      this.samples = [];
      return { note: "" };
    }
    const file = this.aofFile();
    const samples = this.samples;
    this.samples = [];
    // The size a second before; if Redis has been up for less, the size it came up with (cut less than a second).
    const mine = samples.filter((s) => s.file === file);
    const before = [...mine].reverse().find((s) => s.t <= at - 1_000) ?? mine[0];
    if (!file || !before) return { note: "no AOF sample since Redis started: nothing cut" };
    const size = statSync(file).size;
    truncateSync(file, before.size);
    // What was written after the sample is gone: from its time on (the sample was taken after those bytes were there).
    return { note: `cut ${size - before.size} bytes of ${file.split("/").pop()} (its last ${at - before.t} ms)`, cutFrom: before.t };
  }

  async startRedis(): Promise<void> {
    await this.cluster.startRedis();
    this.redisUp = true;
  }

  /** Writes every coordinator's and worker's output to `<dir>/<role>-<pid>.log` (kept with a failed run's files). */
  saveLogs(dir: string): void {
    mkdirSync(dir, { recursive: true });
    for (const p of this.cluster.procs) {
      const role = ["coordinator", "worker"].find((r) => p.child.spawnargs.includes(r));
      if (role) writeFileSync(join(dir, `${role}-${p.child.pid}.log`), p.output());
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.sampler);
    for (const s of this.slots) if (live(s.proc)) s.proc.child.kill("SIGCONT");
    for (const p of this.cluster.procs) {
      if (p.child.spawnargs.includes("coordinator") && live(p)) p.child.kill("SIGKILL");
    }
    await this.cluster.stop();
  }
}

/** A small tmpfs that a fault fills up (needs root; without it, disk-full faults are left out). */
export class SmallDisk {
  mounted = false;
  private filler: string;

  constructor(readonly dir: string, readonly size = "24m") {
    this.filler = join(dir, ".chaos-filler");
  }

  mount(): string | undefined {
    mkdirSync(this.dir, { recursive: true });
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", `size=${this.size}`, "tmpfs", this.dir], { stdio: "pipe" });
      this.mounted = true;
      return undefined;
    } catch (err) {
      return `no tmpfs (${(err as Error).message.split("\n")[0]}): disk-full faults left out`;
    }
  }

  /** Writes a file until the disk is full. Returns the bytes written. */
  fill(): number {
    const fd = openSync(this.filler, "w");
    let written = 0;
    try {
      for (const chunk of [1 << 20, 1 << 12, 1 << 8, 1]) {
        const buf = Buffer.alloc(chunk, 0x61);
        for (;;) {
          try {
            written += writeSync(fd, buf);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === "ENOSPC") break;
            throw err;
          }
        }
      }
    } finally {
      closeSync(fd);
    }
    return written;
  }

  release(): void {
    try {
      unlinkSync(this.filler);
    } catch {
      // not filled
    }
  }

  unmount(): void {
    if (!this.mounted) return;
    this.release();
    try {
      execFileSync("umount", ["-l", this.dir], { stdio: "pipe" });
    } catch {
      // already gone
    }
    this.mounted = false;
  }
}
