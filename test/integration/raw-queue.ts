/** Writing task messages straight into the BullMQ queue, as an attacker with Redis access could. */
import { Job as BullJob, type Queue } from "bullmq";

/** Queues `data` as the queue job `queueId` and waits until a worker completes or fails it: `"failed: <reason>"`. */
export async function deliverRaw(queue: Queue, name: string, data: object, queueId: string): Promise<string> {
  await queue.add(name, data as never, { jobId: queueId, attempts: 1 });
  for (let i = 0; i < 200; i++) {
    const state = await (await BullJob.fromId(queue, queueId))?.getState();
    if (state === "failed" || state === "completed") {
      // Read again: the job may have finished between reading it and reading its state, and its
      // reason is written in the same script that sets the state.
      const done = await BullJob.fromId(queue, queueId);
      return `${state}: ${done?.failedReason ?? ""}`;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no worker took ${queueId}`);
}
