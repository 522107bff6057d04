/**
 * The thread entry of plan-isolated.ts: imports the job (or pipeline) module, which runs its
 * top-level code here, and computes what the coordinator needs from it. The answer goes back as
 * JSON text, the same data the coordinator stores in Redis; errors go back as their code and message.
 */
import { parentPort, workerData } from "node:worker_threads";
import { loadModule, loadTaskJob, verifiedArtifact } from "../core/artifact.js";
import { makeRunSubmission } from "../core/cluster/runs.js";
import { messageOf } from "../core/errors.js";
import type { IsolatedReply, IsolatedRequest } from "./plan-isolated.js";
import { planJob } from "./plan.js";

async function answer(request: IsolatedRequest): Promise<unknown> {
  switch (request.kind) {
    case "plan":
      // By hash, checked before import: a file swapped in the workdir is refused, not run.
      return planJob(await loadTaskJob(request.base.workdir, request.base.artifact, request.label, request.stage), request.base, request.options);
    case "run": {
      const { artifact, label, settings, run } = request;
      const mod = await loadModule(await verifiedArtifact(settings.workdir, artifact.sha256, label), label);
      return makeRunSubmission(mod, artifact, settings, { ...run, at: new Date(run.at) });
    }
  }
}

let reply: IsolatedReply;
try {
  reply = { ok: true, json: JSON.stringify(await answer(workerData as IsolatedRequest)) };
} catch (err) {
  const code = (err as { code?: unknown } | null)?.code;
  reply = { ok: false, code: typeof code === "string" ? code : "PLAN_ERROR", message: messageOf(err) };
}
parentPort!.postMessage(reply);
