/**
 * The fault catalogue and the schedule of faults: drawn in full from the seed before the run
 * starts (kind, target, start offset, how long it lasts), so a seed replays the same schedule; then
 * injected one after another, each logged with its time offset, and undone (processes restarted or
 * continued, Redis restarted, the disk emptied) before the next.
 */
import { makeRng } from "../support/rng.js";
import type { ChaosCluster, SmallDisk } from "./cluster.js";
import type { Report } from "./report.js";
import type { AofLoss } from "./workloads/common.js";

export const FAULT_KINDS = {
  "kill-worker": { weight: 16, hold: [200, 3_000] },
  "stop-worker": { weight: 13, hold: [1_000, 8_000] },
  "kill-coordinator": { weight: 15, hold: [200, 3_000] },
  "stop-coordinator": { weight: 13, hold: [1_000, 8_000] },
  "kill-redis": { weight: 11, hold: [200, 2_500] },
  "kill-redis-lose-1s": { weight: 11, hold: [200, 2_500] },
  "disk-full": { weight: 12, hold: [2_000, 8_000] },
} as const;
export type FaultKind = keyof typeof FAULT_KINDS;

export interface PlannedFault {
  /** Offset from the start, ms (a fault starts no earlier, and not before the one before it is undone). */
  at: number;
  kind: FaultKind;
  /** Worker 0/1; for a coordinator 0 = the leader, 1 = the standby. */
  target: 0 | 1;
  holdMs: number;
}

/** The whole fault schedule of a seed: a fault after a 1-6 s pause, from 4 s in until `minutes` are up. */
export function planFaults(seed: number, minutes: number): PlannedFault[] {
  const rng = makeRng(seed ^ 0x5eed_f417);
  const kinds = Object.entries(FAULT_KINDS) as [FaultKind, (typeof FAULT_KINDS)[FaultKind]][];
  const total = kinds.reduce((n, [, k]) => n + k.weight, 0);
  const plan: PlannedFault[] = [];
  for (let t = 4_000; t < minutes * 60_000; ) {
    let pick = rng() * total;
    const [kind, spec] = kinds.find(([, k]) => (pick -= k.weight) < 0) ?? kinds[0]!;
    const holdMs = spec.hold[0] + Math.floor(rng() * (spec.hold[1] - spec.hold[0]));
    plan.push({ at: t, kind, target: rng() < 0.5 ? 0 : 1, holdMs });
    t += holdMs + 1_000 + Math.floor(rng() * 5_000);
  }
  return plan;
}

export const describeFault = (f: PlannedFault): string => `+${(f.at / 1000).toFixed(1)}s ${f.kind} target ${f.target} for ${f.holdMs} ms`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Injects the planned faults in order, offsets counted from `from`, until `stopAt`; each is undone before the next starts. */
export async function injectFaults(plan: readonly PlannedFault[], cc: ChaosCluster, disk: SmallDisk, report: Report, from: number, stopAt: number, aofLosses: AofLoss[]): Promise<void> {
  for (const f of plan) {
    const due = from + f.at;
    if (due >= stopAt) break;
    if (Date.now() < due) await sleep(due - Date.now());
    if (Date.now() >= stopAt) break;
    await inject(f, cc, disk, report, aofLosses);
  }
}

async function inject(f: PlannedFault, cc: ChaosCluster, disk: SmallDisk, report: Report, aofLosses: AofLoss[]): Promise<void> {
  const workers = cc.slots.filter((s) => s.role === "worker");
  const coordinators = cc.slots.filter((s) => s.role === "coordinator");
  const leader = cc.leader() ?? coordinators[0]!;
  const coordinator = f.target === 0 ? leader : coordinators.find((s) => s !== leader)!;
  switch (f.kind) {
    case "kill-worker":
    case "kill-coordinator": {
      const slot = f.kind === "kill-worker" ? workers[f.target]! : coordinator;
      report.fault(f.kind, slot.name, `${slot === leader ? "the leader, " : ""}pid ${slot.proc.child.pid}, restarted after ${f.holdMs} ms`);
      await cc.kill(slot);
      await sleep(f.holdMs);
      cc.respawn(slot);
      return;
    }
    case "stop-worker":
    case "stop-coordinator": {
      const slot = f.kind === "stop-worker" ? workers[f.target]! : coordinator;
      report.fault(f.kind, slot.name, `${slot === leader ? "the leader, " : ""}pid ${slot.proc.child.pid}, SIGSTOP for ${f.holdMs} ms`);
      cc.signal(slot, "SIGSTOP");
      await sleep(f.holdMs);
      cc.signal(slot, "SIGCONT");
      return;
    }
    case "kill-redis":
    case "kill-redis-lose-1s": {
      const lose = f.kind === "kill-redis-lose-1s";
      const at = Date.now();
      const cut = await cc.killRedis(lose);
      if (cut.cutFrom !== undefined) aofLosses.push({ from: cut.cutFrom, at });
      report.fault(f.kind, "redis", `down ${f.holdMs} ms${cut.note ? `; ${cut.note}` : ""}`);
      await sleep(f.holdMs);
      await cc.startRedis();
      return;
    }
    case "disk-full": {
      if (!disk.mounted) {
        report.log(`(disk-full at ${describeFault(f)} left out: no small disk)`);
        return;
      }
      const bytes = disk.fill();
      report.fault(f.kind, disk.dir, `${(bytes / 2 ** 20).toFixed(1)} MiB written until ENOSPC, held ${f.holdMs} ms`);
      await sleep(f.holdMs);
      disk.release();
      return;
    }
  }
}
