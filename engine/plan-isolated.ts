/**
 * Runs a job's (or pipeline's) own code for the coordinator, off its main thread. Importing a module
 * runs its top-level code, which may call process.exit, loop forever or fill the heap; in a worker
 * thread, process.exit ends only that thread, a loop is stopped by terminate() at the time limit,
 * and a heap past `resourceLimits` ends the thread alone. So a bad job fails by itself, with an
 * error naming it, and the coordinator and every other job live on.
 *
 * Threads are kept, not started per request: starting one and loading the engine's modules in it
 * costs ~80 ms of CPU, planning a small job ~2 ms. The pool:
 * - a spare: a fresh thread, started ahead (its engine modules loaded) and waiting, so the next new
 *   artifact does not wait for a thread to start; taking it starts the next one;
 * - idle threads, each bound to the one artifact (workdir and hash) it was first asked about: it
 *   serves requests for that artifact only, so a job submitted again, a clone or a schedule's next
 *   run is planned in ~2 ms. At most MAX_IDLE are kept; one idle for IDLE_MS is ended.
 * A thread is ended, never reused, after a request it did not answer well (an error, a timeout, an
 * abort, its exit, out of memory), after MAX_REQUESTS answers, once its heap holds more than
 * RECYCLE_HEAP_MB, or after a large plan (RECYCLE_ANSWER_BYTES). A thread answers one request at a time; at most MAX_CONCURRENT are busy, and at
 * most PER_ARTIFACT on one artifact: a burst of one job's clones waits (in order) for its warm
 * threads instead of starting cold ones. The time limit of a request starts when a thread takes it.
 *
 * The trade-off: a module's top-level code runs once per thread, and what it leaves there (patched
 * globals, timers, its module state) persists between requests of that thread. Since a thread serves
 * one artifact, that reaches only later plans of the same module: the same code, which task workers
 * also import once per thread. It never reaches another job's plan, and the limits hold for every
 * request: a timer left looping fails that artifact's next request at its time limit (and ends the
 * thread); only requests on the same artifact ever wait for such a thread. Idle threads do not keep the process up (unref),
 * and stopPlanning() ends them.
 *
 * A thread cannot stop all a module might do (process.kill of its own pid, a crashing native
 * addon); a child process could, but one left looping would outlive a killed coordinator.
 */
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { SERVICE_DEFAULTS } from "../core/defaults.js";
import type { RunSettings, RunSubmission } from "../core/cluster/runs.js";
import { isErrorCode, SheafError, messageOf } from "../core/errors.js";
import { jobThreadEnv } from "../core/security/credentials.js";
import { checkMessage, Schemas } from "../core/security/messages.js";
import type { planJob, PlanOptions } from "./plan.js";

export interface IsolationLimits {
  /** How long one request may take, the module's import included. @defaultValue 120000 */
  timeoutMs?: number;
  /** V8 old-generation limit of the thread, in MiB. @defaultValue 1024 */
  memoryMb?: number;
}

const DEFAULT_PLAN_TIMEOUT_MS = SERVICE_DEFAULTS.planTimeoutMs;
const DEFAULT_MEMORY_MB = SERVICE_DEFAULTS.planMemoryMb;
/** Threads planning at once: a burst of submitted jobs must not start a thread (and a heap) each. */
const MAX_CONCURRENT = 4;
/** Threads answering requests on one artifact at once: more wait for those (warm) threads. */
const PER_ARTIFACT = 2;
/** Idle threads kept (each bound to one artifact), besides the spare. */
const MAX_IDLE = 2;
/** An idle thread unused this long is ended (and its heap freed). */
const IDLE_MS = 60_000;
/** Answers a thread gives before it is replaced, so nothing it holds grows without end. */
const MAX_REQUESTS = 200;
/** A thread whose heap in use after an answer is above this (or half its limit) is replaced. */
const RECYCLE_HEAP_MB = 128;
/**
 * A thread whose answer was longer than this is replaced too: a plan of ~20,000 splits or more left
 * its split objects in a heap an idle thread never collects (54 MiB held after a 100,000-split plan,
 * for as long as the thread stayed idle); a new thread costs ~80 ms once per such job.
 */
const RECYCLE_ANSWER_BYTES = 256 * 1024;

export type IsolatedRequest =
  | { kind: "plan"; artifact: string; label: string; stage?: string; base: Parameters<typeof planJob>[1]; options: PlanOptions }
  | {
      kind: "run";
      artifact: { path: string; sha256: string };
      label: string;
      settings: RunSettings;
      /** The run's id, logical time (ISO) and the schedule that fires it. */
      run: { id: string; at: string; tz?: string; schedule?: { name: string; due: number } };
    };

export type IsolatedReply = { ok: true; json: string } | { ok: false; code: string; message: string };

/** A request as posted to a planning thread, and its answer: `seq` pairs them. */
export interface ThreadRequest {
  seq: number;
  request: IsolatedRequest;
}
export interface ThreadReply {
  seq: number;
  reply: IsolatedReply;
  /** The thread's V8 heap in use after answering, in bytes. */
  heapUsed: number;
}

const THREAD_FILE = fileURLToPath(new URL("./plan-thread.js", import.meta.url));

/**
 * Plans a job in a thread of its own; `what` names it in errors ("job wordcount"). Resolves with the
 * plan as JSON, in the compact form it is stored in (stored-plan.ts): a plan of 100,000 tasks is
 * parsed once, after it is stored, not once more before.
 */
export function planIsolated(request: Omit<Extract<IsolatedRequest, { kind: "plan" }>, "kind">, what: string, limits: IsolationLimits = {}, signal?: AbortSignal): Promise<string> {
  return isolated({ kind: "plan", ...request }, what, limits, signal);
}

/** A pipeline run's submission (its stages resolved), computed in a thread of its own. */
export async function runSubmissionIsolated(request: Omit<Extract<IsolatedRequest, { kind: "run" }>, "kind">, what: string, limits: IsolationLimits = {}, signal?: AbortSignal): Promise<RunSubmission> {
  return checkMessage(Schemas.run, JSON.parse(await isolated({ kind: "run", ...request }, what, limits, signal)), `${what}'s run submission`);
}

/** The artifact a request imports: a thread that imported it serves only it. */
function artifactOf(request: IsolatedRequest): string {
  return request.kind === "plan" ? `${request.base.workdir}\0${request.base.artifact}` : `${request.settings.workdir}\0${request.artifact.sha256}`;
}

async function isolated(request: IsolatedRequest, what: string, limits: IsolationLimits, signal?: AbortSignal): Promise<string> {
  const memoryMb = limits.memoryMb ?? DEFAULT_MEMORY_MB;
  const planner = await pool.take(artifactOf(request), memoryMb, signal);
  return inThread(planner, request, what, limits.timeoutMs ?? DEFAULT_PLAN_TIMEOUT_MS, memoryMb, signal);
}

/** Asks `planner` (taken for this request); the time limit starts now, not while waiting for a thread. */
function inThread(planner: Planner, request: IsolatedRequest, what: string, timeoutMs: number, memoryMb: number, signal?: AbortSignal): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    if (signal?.aborted) {
      pool.giveBack(planner, undefined);
      return reject(signal.reason);
    }
    const seq = ++lastSeq;
    let settled = false;
    // Settles once; the thread goes back to the pool only after a good answer, else it is ended:
    // a thread that timed out, was given up, failed or exited is never asked again.
    const settle = (outcome: { json: string; heapUsed: number } | { error: unknown }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      planner.current = undefined;
      pool.giveBack(planner, "json" in outcome ? { heapUsed: outcome.heapUsed, bytes: outcome.json.length } : undefined);
      if ("json" in outcome) resolve(outcome.json);
      else reject(outcome.error);
    };
    const timer = setTimeout(
      () => settle({ error: new SheafError("PLAN_TIMEOUT", `${what}: planning did not finish within ${timeoutMs} ms (--plan-timeout); its thread was stopped`) }),
      timeoutMs,
    );
    const onAbort = () => settle({ error: signal!.reason });
    signal?.addEventListener("abort", onAbort, { once: true });
    planner.current = {
      seq,
      answered: ({ reply, heapUsed }) => settle(reply.ok ? { json: reply.json, heapUsed } : { error: new SheafError(isErrorCode(reply.code) ? reply.code : "PLAN_ERROR", reply.message) }),
      failed: (err) => {
        const code = (err as { code?: unknown }).code;
        settle({
          error:
            code === "ERR_WORKER_OUT_OF_MEMORY"
              ? new SheafError("PLAN_OUT_OF_MEMORY", `${what}: planning ran out of memory (the planning thread's limit is ${memoryMb} MiB)`)
              : new SheafError("PLAN_FAILED", `${what}: planning failed: ${messageOf(err)}`, false, { cause: err }),
        });
      },
      // Ended with neither an answer nor an error: the module's own code called process.exit.
      exited: (code) => settle({ error: new SheafError("PLAN_EXITED", `${what}: its module called process.exit(${code}) while being planned`) }),
    };
    planner.worker.postMessage({ seq, request } satisfies ThreadRequest);
  });
}

let lastSeq = 0;

/** A planning thread, and the request it is answering (if any). */
interface Planner {
  readonly worker: Worker;
  readonly memoryMb: number;
  /** The artifact it serves: unset until its first request. */
  artifact?: string;
  answers: number;
  dead: boolean;
  idleTimer?: NodeJS.Timeout;
  current?: {
    seq: number;
    answered(reply: ThreadReply): void;
    failed(err: Error): void;
    exited(code: number): void;
  };
}

/** The spare and the idle threads; see the file header. */
class Pool {
  private spare: Planner | undefined;
  /** Least recently used first. */
  private readonly idle: Planner[] = [];

  /** Threads answering a request, in all and per artifact. */
  private busy = 0;
  private readonly busyFor = new Map<string, number>();
  /** Requests waiting for a thread, in arrival order. */
  private readonly waiting: { artifact: string; memoryMb: number; take: (p: Planner) => void }[] = [];

  /**
   * A thread for a request on `artifact`, once one may start: at most MAX_CONCURRENT at once, and at
   * most PER_ARTIFACT on one artifact (a burst of one job's clones or runs waits for that job's warm
   * threads, in order, rather than starting cold ones). Waiters are served in arrival order, but one
   * that must wait does not hold up a later one on another artifact.
   */
  take(artifact: string, memoryMb: number, signal?: AbortSignal): Promise<Planner> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Planner>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal!.reason);
      };
      const waiter = {
        artifact,
        memoryMb,
        take: (p: Planner) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(p);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
      this.dispatch();
    });
  }

  /** Serves the waiters that can be served now. */
  private dispatch(): void {
    const held = new Set<string>(); // an artifact with an earlier waiter still waiting: keep their order
    for (let i = 0; i < this.waiting.length && this.busy < MAX_CONCURRENT; ) {
      const w = this.waiting[i]!;
      const key = `${w.memoryMb}\0${w.artifact}`;
      const planner = held.has(key) ? undefined : this.planner(w.artifact, w.memoryMb);
      if (!planner) {
        held.add(key);
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      planner.artifact = w.artifact;
      planner.worker.ref(); // a plan in progress keeps the process up, as any awaited work does
      this.busy++;
      this.busyFor.set(w.artifact, (this.busyFor.get(w.artifact) ?? 0) + 1);
      this.warmSpare(w.memoryMb);
      w.take(planner);
    }
  }

  /** An idle thread serving `artifact`, else (under PER_ARTIFACT) the spare or a new thread; else none yet. */
  private planner(artifact: string, memoryMb: number): Planner | undefined {
    const i = this.idle.findLastIndex((p) => p.artifact === artifact && p.memoryMb === memoryMb);
    if (i >= 0) {
      const planner = this.idle.splice(i, 1)[0]!;
      clearTimeout(planner.idleTimer);
      return planner;
    }
    if ((this.busyFor.get(artifact) ?? 0) >= PER_ARTIFACT) return undefined;
    if (this.spare?.memoryMb === memoryMb) {
      const planner = this.spare;
      this.spare = undefined;
      return planner;
    }
    return this.start(memoryMb);
  }

  /** After a request: back to the idle threads if it answered well (its heap in use and length given) and was no large plan, else ended. */
  giveBack(planner: Planner, answer: { heapUsed: number; bytes: number } | undefined): void {
    planner.worker.unref();
    this.busy--;
    const left = (this.busyFor.get(planner.artifact!) ?? 1) - 1;
    if (left > 0) this.busyFor.set(planner.artifact!, left);
    else this.busyFor.delete(planner.artifact!);
    planner.answers++;
    const heapLimit = Math.min(RECYCLE_HEAP_MB, planner.memoryMb / 2) * 2 ** 20;
    if (planner.dead || answer === undefined || planner.answers >= MAX_REQUESTS || answer.heapUsed > heapLimit || answer.bytes > RECYCLE_ANSWER_BYTES) {
      void this.end(planner);
    } else {
      planner.idleTimer = setTimeout(() => this.end(planner), IDLE_MS).unref();
      this.idle.push(planner);
    }
    // Waiters first: an idle thread they can use is not ended as surplus.
    this.dispatch();
    while (this.idle.length > MAX_IDLE) void this.end(this.idle[0]!);
  }

  /** Ends every thread not answering a request; those that are end with their request. */
  async stop(): Promise<void> {
    const ending = [...this.idle, ...(this.spare ? [this.spare] : [])];
    await Promise.all(ending.map((p) => this.end(p)));
  }

  private warmSpare(memoryMb: number): void {
    if (this.spare?.memoryMb === memoryMb) return;
    if (this.spare) void this.end(this.spare);
    this.spare = this.start(memoryMb);
  }

  private start(memoryMb: number): Planner {
    // A module's top-level code runs here: give it an environment without the cluster's credentials
    // (SHEAF_SECRET, the admin Redis URL). The thread's process.argv is its own, not the coordinator's.
    const worker = new Worker(THREAD_FILE, { resourceLimits: { maxOldGenerationSizeMb: memoryMb }, env: jobThreadEnv() });
    const planner: Planner = { worker, memoryMb, answers: 0, dead: false };
    const died = () => {
      planner.dead = true;
      this.forget(planner);
    };
    worker.on("message", (reply: ThreadReply) => {
      // Anything else (a late or forged message from a module's own code) is ignored.
      if (planner.current && reply?.seq === planner.current.seq) planner.current.answered(reply);
    });
    worker.on("error", (err) => {
      died();
      planner.current?.failed(err);
    });
    worker.on("exit", (code) => {
      died();
      planner.current?.exited(code);
    });
    // Idle (or warming), it must not keep the process up. After the listeners: adding a "message"
    // listener refs the thread's port again.
    worker.unref();
    return planner;
  }

  private end(planner: Planner): Promise<unknown> {
    planner.dead = true;
    this.forget(planner);
    return planner.worker.terminate().catch(() => {});
  }

  private forget(planner: Planner): void {
    clearTimeout(planner.idleTimer);
    if (this.spare === planner) this.spare = undefined;
    const i = this.idle.indexOf(planner);
    if (i >= 0) this.idle.splice(i, 1);
  }
}

const pool = new Pool();

/**
 * Ends the idle planning threads (a request still running ends its own thread when it settles or is
 * aborted). Idle threads never keep the process up; this frees them at once. Planning later starts new ones.
 */
export function stopPlanning(): Promise<void> {
  return pool.stop();
}
