/**
 * Runs a job's (or pipeline's) own code for the coordinator, off its main thread. Importing a module
 * runs its top-level code, which may call process.exit, loop forever or fill the heap; in a worker
 * thread, process.exit ends only that thread, a loop is stopped by terminate() at the time limit,
 * and a heap past `resourceLimits` ends the thread alone. So a bad job fails by itself, with an
 * error naming it, and the coordinator and every other job live on. Each request gets a fresh
 * thread: no module state and no import cache outlive it.
 *
 * A thread cannot stop all a module might do (process.kill of its own pid, a crashing native
 * addon); a child process could, but one left looping would outlive a killed coordinator.
 */
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { RunSettings, RunSubmission } from "../core/cluster/runs.js";
import { SheafError, messageOf } from "../core/errors.js";
import type { JobPlan, planJob, PlanOptions } from "./plan.js";

export interface IsolationLimits {
  /** How long one request may take, the module's import included. @defaultValue 120000 */
  timeoutMs?: number;
  /** V8 old-generation limit of the thread, in MiB. @defaultValue 1024 */
  memoryMb?: number;
}

export const DEFAULT_PLAN_TIMEOUT_MS = 120_000;
const DEFAULT_MEMORY_MB = 1024;
/** Threads planning at once: a burst of submitted jobs must not start a thread (and a heap) each. */
const MAX_CONCURRENT = 4;

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

const THREAD_FILE = fileURLToPath(new URL("./plan-thread.js", import.meta.url));

/** Plans a job in a thread of its own; `what` names it in errors ("job wordcount"). */
export async function planIsolated(request: Omit<Extract<IsolatedRequest, { kind: "plan" }>, "kind">, what: string, limits: IsolationLimits = {}, signal?: AbortSignal): Promise<JobPlan> {
  return JSON.parse(await isolated({ kind: "plan", ...request }, what, limits, signal)) as JobPlan;
}

/** A pipeline run's submission (its stages resolved), computed in a thread of its own. */
export async function runSubmissionIsolated(request: Omit<Extract<IsolatedRequest, { kind: "run" }>, "kind">, what: string, limits: IsolationLimits = {}, signal?: AbortSignal): Promise<RunSubmission> {
  return JSON.parse(await isolated({ kind: "run", ...request }, what, limits, signal)) as RunSubmission;
}

async function isolated(request: IsolatedRequest, what: string, limits: IsolationLimits, signal?: AbortSignal): Promise<string> {
  await slots.acquire(signal);
  try {
    return await inThread(request, what, limits.timeoutMs ?? DEFAULT_PLAN_TIMEOUT_MS, limits.memoryMb ?? DEFAULT_MEMORY_MB, signal);
  } finally {
    slots.release();
  }
}

function inThread(request: IsolatedRequest, what: string, timeoutMs: number, memoryMb: number, signal?: AbortSignal): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const thread = new Worker(THREAD_FILE, { workerData: request, resourceLimits: { maxOldGenerationSizeMb: memoryMb } });
    let settled = false;
    // Settles once, then ends the thread: a module may leave timers or sockets open that would keep it alive.
    const settle = (outcome: { json: string } | { error: unknown }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      void thread.terminate();
      if ("json" in outcome) resolve(outcome.json);
      else reject(outcome.error);
    };
    const timer = setTimeout(
      () => settle({ error: new SheafError("PLAN_TIMEOUT", `${what}: planning did not finish within ${timeoutMs} ms (--plan-timeout); its thread was stopped`) }),
      timeoutMs,
    );
    const onAbort = () => settle({ error: signal!.reason });
    signal?.addEventListener("abort", onAbort, { once: true });
    thread.on("message", (reply: IsolatedReply) => settle(reply.ok ? { json: reply.json } : { error: new SheafError(reply.code, reply.message) }));
    thread.on("error", (err) => {
      const code = (err as { code?: unknown }).code;
      settle({
        error:
          code === "ERR_WORKER_OUT_OF_MEMORY"
            ? new SheafError("PLAN_OUT_OF_MEMORY", `${what}: planning ran out of memory (the planning thread's limit is ${memoryMb} MiB)`)
            : new SheafError("PLAN_FAILED", `${what}: planning failed: ${messageOf(err)}`, false, { cause: err }),
      });
    });
    // Ended with neither an answer nor an error: the module's own code called process.exit.
    thread.on("exit", (code) => settle({ error: new SheafError("PLAN_EXITED", `${what}: its module called process.exit(${code}) while being planned`) }));
  });
}

/** Counts free planning threads; waiters are served in arrival order. */
class Slots {
  private readonly waiters: (() => void)[] = [];

  constructor(private free: number) {}

  async acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const wake = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        this.waiters.splice(this.waiters.indexOf(wake), 1);
        reject(signal!.reason);
      };
      this.waiters.push(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}

const slots = new Slots(MAX_CONCURRENT);
