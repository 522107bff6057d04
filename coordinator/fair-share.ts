/**
 * The workers' slots shared among the jobs a coordinator drives, as Hadoop's Fair Scheduler shares
 * them: by pool, then by job within its pool, each by weight, with no preemption (a job over its
 * share gets no new slot until its running tasks end).
 *
 * A slot here is a queue job out (added to BullMQ and not ended): the coordinator keeps only
 * `depth()` of them out, what the workers run and half as many again ready to take, and holds the
 * rest of every job's tasks itself. So a job submitted while a big one runs is not queued behind
 * thousands of its tasks: each slot that frees goes to the job furthest below its share. The depth
 * follows the workers' appetite without being told it: starting at MIN_DEPTH, it grows while what
 * is out is taken at once, and settles once tasks wait. Among what is out, BullMQ's priority orders
 * the queue jobs as weighted fair queueing does: each gets a virtual start time, its job's previous
 * finish or the virtual time now (that of the last to start), whichever is later, and a job of
 * weight w advances its finish by the queue job's expected run time over w (from the job's own
 * tasks of that kind so far). So thread time goes 3:1 to jobs weighted 3 and 1, a job joining late
 * starts at the present (no credit for the past), a small job's 20 ms tasks are not made to take
 * turns with a big one's 400 ms tasks one for one, and one job's tasks never pass each other.
 *
 * Pools (`sheaf coordinator --pool name:weight=2,min=2,max=8`) get their minimum first (when they
 * have the tasks), then the rest by weight; `max` caps a pool's slots even on an idle cluster. A
 * job names its pool (`--pool`, default `default`) and its weight in it (`--priority`, default 1);
 * an unknown pool is made with weight 1. Every job holding tasks gets a share in proportion to its
 * weight, never none: a low-priority job progresses under any stream of high-priority ones. Nothing
 * here is state of its own: pools come from the coordinator's flags, weights from the job records,
 * and a new leader recomputes the same shares from them. It holds every slot back until each job it
 * resumes has said what it waits with (see `hold`): the first job resumed would otherwise take the
 * whole depth before the others are counted.
 */
import { readFileSync } from "node:fs";
import { SheafError } from "../core/errors.js";

export interface Pool {
  name: string;
  weight: number;
  /** Slots the pool gets before others share the rest (when its jobs have the tasks). */
  min: number;
  /** Slots the pool never exceeds. */
  max: number;
}

export const DEFAULT_POOL = "default";

/** `name[:weight=W][,min=N][,max=N]`, as `--pool` takes it. */
export function parsePool(text: string): Pool {
  const m = /^([A-Za-z0-9._-]{1,64})(?::(.*))?$/.exec(text);
  if (!m) throw new SheafError("BAD_OPTION", `--pool ${text}: expected name:weight=2,min=1,max=8 (a name of letters, digits, '.', '_' or '-')`);
  const pool: Pool = { name: m[1]!, weight: 1, min: 0, max: Number.POSITIVE_INFINITY };
  for (const part of m[2] ? m[2].split(",") : []) {
    const kv = /^(weight|min|max)=(\d+(?:\.\d+)?)$/.exec(part.trim());
    if (!kv) throw new SheafError("BAD_OPTION", `--pool ${text}: ${JSON.stringify(part)} is not weight=N, min=N or max=N`);
    const n = Number(kv[2]);
    if (kv[1] === "weight" ? n <= 0 : !Number.isInteger(n) || (kv[1] === "max" && n < 1)) throw new SheafError("BAD_OPTION", `--pool ${text}: ${part} is out of range`);
    pool[kv[1] as "weight" | "min" | "max"] = n;
  }
  if (pool.min > pool.max) throw new SheafError("BAD_OPTION", `--pool ${text}: min ${pool.min} is over max ${pool.max}`);
  return pool;
}

/**
 * A pools file (`sheaf coordinator --pools-file`): one pool per line as `--pool` takes it, `#`
 * comments and blank lines skipped. `--pool` flags come after it and replace a pool of the same name.
 */
export function parsePoolsFile(text: string, path: string): Pool[] {
  const pools = new Map<string, Pool>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) return;
    let pool: Pool;
    try {
      pool = parsePool(line);
    } catch (err) {
      throw new SheafError("BAD_OPTION", `${path}:${i + 1}: ${(err as Error).message.replace(/^--pool /, "")}`);
    }
    if (pools.has(pool.name)) throw new SheafError("BAD_OPTION", `${path}:${i + 1}: pool ${pool.name} is declared twice`);
    pools.set(pool.name, pool);
  });
  return [...pools.values()];
}

/** The coordinator's pools: those of `--pools-file`, then each `--pool` (over a file's of the same name). */
export function poolsFrom(file: string | undefined, flags: readonly string[]): Pool[] {
  let text = "";
  if (file !== undefined) {
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new SheafError("BAD_OPTION", `--pools-file ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  const pools = new Map(parsePoolsFile(text, file ?? "").map((p) => [p.name, p]));
  for (const f of flags) {
    const p = parsePool(f);
    pools.set(p.name, p);
  }
  return [...pools.values()];
}

/** Queue jobs out when none has started yet, and the least kept ready beyond those running. */
const MIN_DEPTH = 8;
const MARGIN = 4;
/** BullMQ's largest priority. */
const MAX_PRIORITY = 2_097_152;
/** Virtual milliseconds per priority step. */
const STEP_MS = 2;
/** A queue job's expected run time while its job has run none of that kind. */
const UNKNOWN_COST_MS = 100;
/**
 * Past this priority, virtual time is moved back to zero: every job's finish with it, and the
 * priorities of what is queued (rebase). Costs are divided by the threads running, so virtual time
 * goes about as fast as the clock over the jobs' total weight: every half hour or so on a cluster busy
 * without a break (an idle cluster starts again from zero).
 */
const REBASE_AT = MAX_PRIORITY / 2;

interface Claim {
  weight: number;
  /** What it could use: its slots out and its tasks waiting. */
  demand: number;
  min?: number;
  max?: number;
}

/**
 * Splits `total` among claims: each its minimum first (scaled down if they do not fit), then the
 * rest by weight, none past its demand or max (water-filling). Fractional slots.
 */
export function allocate(total: number, claims: readonly Claim[]): number[] {
  const cap = claims.map((c) => Math.min(c.demand, c.max ?? Number.POSITIVE_INFINITY));
  const mins = claims.map((c, i) => Math.min(c.min ?? 0, cap[i]!));
  const minSum = mins.reduce((a, b) => a + b, 0);
  const got = mins.map((m) => (minSum > total ? (m * total) / minSum : m));
  let left = total - got.reduce((a, b) => a + b, 0);
  let open = claims.map((_, i) => i).filter((i) => got[i]! < cap[i]!);
  while (left > 1e-9 && open.length) {
    const weights = open.reduce((a, i) => a + claims[i]!.weight, 0);
    const full = open.filter((i) => got[i]! + (left * claims[i]!.weight) / weights >= cap[i]!);
    if (!full.length) {
      for (const i of open) got[i]! += (left * claims[i]!.weight) / weights;
      break;
    }
    for (const i of full) {
      left -= cap[i]! - got[i]!;
      got[i] = cap[i]!;
    }
    open = open.filter((i) => !full.includes(i));
  }
  return got;
}

/** One job's place in the share: what it has out, what it waits with, and how to wake it. */
export class ShareMember {
  out = 0;
  active = 0;
  /** Tasks it holds back (set by its executor before it asks for room). */
  waiting = 0;
  /** Set by its executor: move what it has queued `steps` priorities earlier (virtual time rebased). */
  rebase: (steps: number) => void = () => {};
  /** The virtual time its last queue job added finishes at. */
  finish = 0;

  constructor(
    private readonly share: FairShare,
    readonly jobId: string,
    readonly pool: string,
    readonly weight: number,
    /** Called when a slot may have opened for it. */
    readonly wake: () => void,
    /** Its pool has a max: a queue job is then one task (a batch runs on every thread of its worker at once). */
    readonly capped: boolean,
  ) {}

  /** Queue jobs it may add now. */
  room(): number {
    return this.share.roomOf(this);
  }

  /** The BullMQ priority of its next queue job, expected to run `costMs` (none under fifo): its virtual start time. */
  priority(costMs = UNKNOWN_COST_MS): number | undefined {
    if (this.share.mode === "fifo") return undefined;
    const start = Math.max(this.finish, this.share.vtime);
    this.finish = start + costMs / this.share.threads() / this.weight;
    return priorityAt(start);
  }

  added(n: number): void {
    this.out += n;
    this.share.changed(n, 0);
  }

  /** One of its queue jobs started, the one given `priority`. */
  started(priority?: number): void {
    this.active++;
    if (priority !== undefined) this.share.advance(priority);
    this.share.changed(0, 1);
  }

  ended(started: boolean): void {
    this.out--;
    if (started) this.active--;
    this.share.changed(-1, started ? -1 : 0);
  }


  leave(): void {
    this.share.leave(this);
  }
}

/** How long a new leader holds slots for jobs it resumes that have not asked yet (a stored plan loads in milliseconds). */
const HOLD_MS = 5_000;

function priorityAt(vtime: number): number {
  return Math.min(MAX_PRIORITY, 1 + Math.round(vtime / STEP_MS));
}

export class FairShare {
  /** The virtual start time (ms) of the latest queue job to start. */
  vtime = 0;
  private readonly members = new Set<ShareMember>();
  private readonly pools: Map<string, Pool>;
  private out = 0;
  private active = 0;
  /** Jobs being resumed that have not asked for room yet: none gets a slot until all have. */
  private readonly held = new Set<string>();
  private holdTimer: NodeJS.Timeout | undefined;

  constructor(pools: readonly Pool[] = [], readonly mode: "fair" | "fifo" = "fair") {
    this.pools = new Map(pools.map((p) => [p.name, p]));
  }

  join(jobId: string, pool: string | undefined, weight: number | undefined, wake: () => void): ShareMember {
    const name = pool ?? DEFAULT_POOL;
    const m = new ShareMember(this, jobId, name, weight ?? 1, wake, this.mode === "fair" && Number.isFinite(this.pools.get(name)?.max ?? Number.POSITIVE_INFINITY));
    this.members.add(m);
    return m;
  }

  /**
   * A new leader resumes `jobs` together: no job gets a slot until each has asked for one with its
   * tasks counted (or is released: it ended, or was not resumed), or HOLD_MS pass.
   */
  hold(jobs: Iterable<string>): void {
    if (this.mode === "fifo") return;
    for (const id of jobs) this.held.add(id);
    if (!this.held.size || this.holdTimer) return;
    this.holdTimer = setTimeout(() => {
      this.held.clear();
      this.released();
    }, HOLD_MS);
    this.holdTimer.unref();
  }

  /** A held job that will not ask (it ended, failed to plan, or is new rather than resumed). */
  release(jobId: string): void {
    if (this.held.delete(jobId) && !this.held.size) this.released();
  }

  private released(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    for (const x of this.members) if (x.waiting > 0) x.wake();
  }

  /** A job's executor closed: what it still had out (stopped, or left to the next leader) no longer counts. */
  leave(m: ShareMember): void {
    if (!this.members.delete(m)) return;
    this.out -= m.out;
    this.active -= m.active;
    for (const x of this.members) if (x.waiting > 0) x.wake();
  }

  /** Queue jobs kept out, all jobs together: those running, and half as many again (at least MARGIN) ready to take. */
  depth(): number {
    return Math.max(MIN_DEPTH, this.active + Math.max(MARGIN, Math.ceil(this.active / 2)));
  }

  /** A job's slots out and its share now, for status and metrics. */
  shareOf(m: ShareMember): { pool: string; slots: number; of: number } {
    return { pool: m.pool, slots: m.out, of: this.out };
  }

  roomOf(m: ShareMember): number {
    if (this.mode === "fifo") return Number.POSITIVE_INFINITY;
    const depth = this.depth();
    if (m.waiting === 0) return 0;
    if (this.held.size) {
      // Asking with its tasks counted is what the hold waits for.
      this.release(m.jobId);
      if (this.held.size) return 0;
    }
    const byPool = new Map<string, ShareMember[]>();
    for (const x of this.members) if (x.out + x.waiting > 0) byPool.set(x.pool, [...(byPool.get(x.pool) ?? []), x]);
    const names = [...byPool.keys()];
    const pools = names.map((n) => this.pools.get(n) ?? { name: n, weight: 1, min: 0, max: Number.POSITIVE_INFINITY });
    const poolShares = allocate(depth, pools.map((p, i) => ({ weight: p.weight, min: p.min, max: p.max, demand: byPool.get(names[i]!)!.reduce((a, x) => a + x.out + x.waiting, 0) })));
    const at = names.indexOf(m.pool);
    const jobs = byPool.get(m.pool)!;
    const jobShares = allocate(poolShares[at]!, jobs.map((x) => ({ weight: x.weight, demand: x.out + x.waiting })));
    const poolOut = jobs.reduce((a, x) => a + x.out, 0);
    const target = Math.ceil(jobShares[jobs.indexOf(m)]! - 1e-9);
    // Below its share, a job adds up to it even when what is out fills the depth: its turns (lower
    // priorities) then come before what jobs over their share queued, at the next thread that frees.
    // Otherwise that thread would take their next task first, and a small job would wait a task
    // length more for each of its stages. What is out overshoots the depth by at most such shares.
    return Math.max(0, Math.min(target - m.out, m.waiting, pools[at]!.max - poolOut));
  }

  /** Threads running this coordinator's tasks now (at least one): virtual time's divisor. */
  threads(): number {
    return Math.max(1, this.active);
  }

  /** A queue job of `priority` started: the present, in virtual time, is at least its start. */
  advance(priority: number): void {
    this.vtime = Math.max(this.vtime, (priority - 1) * STEP_MS);
    if (priority < REBASE_AT) return;
    const steps = Math.floor(this.vtime / STEP_MS);
    this.vtime -= steps * STEP_MS;
    for (const x of this.members) {
      x.finish = Math.max(0, x.finish - steps * STEP_MS);
      x.rebase(steps);
    }
  }

  /** A new leader goes on from the queue's next job (what the last leader queued runs in its order). */
  resumeAt(priority: number): void {
    this.advance(priority);
  }

  changed(out: number, active: number): void {
    this.out += out;
    this.active += active;
    if (this.out === 0) {
      // Idle: nothing queued keeps an old priority, so virtual time starts again from zero.
      this.vtime = 0;
      for (const x of this.members) x.finish = 0;
    }
    // A slot freed, or the depth grew: every job waiting with tasks may have room now.
    if (out < 0 || active > 0) for (const x of this.members) if (x.waiting > 0) x.wake();
  }

}
