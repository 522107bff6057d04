/**
 * The thread entry of plan-isolated.ts: a long-lived planner. It loads the engine's modules once,
 * then takes requests by message, one at a time: imports the job (or pipeline) module, which runs
 * its top-level code here (once per thread: the import is cached), and computes what the
 * coordinator needs from it. Each answer goes back as JSON text, the same data the coordinator
 * stores in Redis, with the request's number and this thread's heap in use (the pool retires a
 * thread whose heap grew); errors go back as their code and message.
 *
 * plan-isolated.ts gives a thread requests for one artifact only (the first it was asked about), so
 * what a module leaves behind here (globals, timers, its cached instance) reaches no other job.
 */
import { getHeapStatistics } from "node:v8";
import { parentPort } from "node:worker_threads";
import { loadArtifact, loadTaskJob } from "../core/artifact.js";
import { makeRunSubmission } from "../core/cluster/runs.js";
import { messageOf } from "../core/errors.js";
import type { IsolatedReply, IsolatedRequest, ThreadReply, ThreadRequest } from "./plan-isolated.js";
import { planJob } from "./plan.js";
import { storedPlan } from "./stored-plan.js";

async function answer(request: IsolatedRequest): Promise<unknown> {
  switch (request.kind) {
    case "plan":
      // By hash, checked before import: a file swapped in the workdir is refused, not run.
      return storedPlan(await planJob(await loadTaskJob(request.base.workdir, request.base.artifact, request.label, request.stage), request.base, request.options));
    case "run": {
      const { artifact, label, settings, run } = request;
      const mod = await loadArtifact(settings.workdir, artifact.sha256, label);
      return makeRunSubmission(mod, artifact, settings, { ...run, at: new Date(run.at) });
    }
  }
}

parentPort!.on("message", async ({ seq, request }: ThreadRequest) => {
  let reply: IsolatedReply;
  try {
    reply = { ok: true, json: JSON.stringify(await answer(request)) };
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    reply = { ok: false, code: typeof code === "string" ? code : "PLAN_ERROR", message: messageOf(err) };
  }
  parentPort!.postMessage({ seq, reply, heapUsed: getHeapStatistics().used_heap_size } satisfies ThreadReply);
});
