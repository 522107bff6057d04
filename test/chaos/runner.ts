/**
 * The seeded fault-injection runner (issue 24): a private cluster (Redis with an AOF, two
 * coordinators, two workers), four workloads at once (word count with concurrent resubmits,
 * --overwrite reruns under a polling reader, a pipeline into PostgreSQL, a schedule), and faults
 * drawn from the seed for `minutes`. Then the faults stop, everything is restored, what is still
 * running gets `graceSeconds` to finish, and every output is checked against its oracle.
 *
 * One seed drives every choice: the fault schedule (planFaults) and each workload's own stream
 * (the seed mixed with the workload's number), so a seed replays the same schedule and the same
 * sequence of jobs (their interleaving with the faults is up to the machine).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { makeRng } from "../support/rng.js";
import { ChaosCluster, SmallDisk } from "./cluster.js";
import { describeFault, injectFaults, planFaults } from "./faults.js";
import { Report, formatSummary, summarize, type Summary } from "./report.js";
import type { AofLoss, Ctx } from "./workloads/common.js";
import { overwriteWorkload } from "./workloads/overwrite.js";
import { pipelineWorkload } from "./workloads/pipeline.js";
import { ScheduleWorkload } from "./workloads/schedule.js";
import { wordcountWorkload } from "./workloads/wordcount.js";

export interface ChaosOptions {
  seed: number;
  minutes: number;
  /** After the faults stop, how long what still runs may take before it counts as hung. */
  graceSeconds?: number;
  /** Print the log as it goes (the CLI does; the CI slice keeps it in the log file). */
  echo?: boolean;
  /** Keep the scratch folder even when the run passes. */
  keep?: boolean;
}

export interface ChaosResult {
  summary: Summary;
  text: string;
  logFile: string;
  /** The fault schedule, one line each, printed in full on a failure. */
  schedule: string[];
}

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const root = mkdtempSync(join(tmpdir(), `sheaf-chaos-${o.seed}-`));
  const report = new Report(join(root, "chaos.log"), o.echo ?? false);
  const plan = planFaults(o.seed, o.minutes);
  const schedule = plan.filter((f) => f.at < o.minutes * 60_000).map(describeFault);
  report.log(`chaos: seed ${o.seed}, ${o.minutes} min, ${plan.length} faults planned; log and files in ${root}`);

  const disk = new SmallDisk(join(root, "small"));
  const noDisk = disk.mount();
  if (noDisk) report.note(noDisk);
  const databaseUrl = process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
  const env = { DATABASE_URL: databaseUrl };
  const cc = new ChaosCluster(join(disk.dir, "workdir"), join(root, "redis"), report, env);
  const schema = `sheaf_chaos_${o.seed}_${process.pid}`;
  let pgOk = false;
  const admin = new pg.Client({ connectionString: databaseUrl });
  try {
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    pgOk = true;
  } catch (err) {
    report.note(`no PostgreSQL at ${databaseUrl} (${(err as Error).message}): the pipeline workload is left out`);
  }

  const aofLosses: AofLoss[] = [];
  const grace = (o.graceSeconds ?? 180) * 1000;
  let stopAt = Infinity;
  let deadline = Infinity;
  const ctxFor = (name: string, n: number): Ctx => {
    const scratch = join(root, name);
    const small = join(disk.dir, name);
    mkdirSync(scratch, { recursive: true });
    mkdirSync(small, { recursive: true });
    return {
      cc, report, env, aofLosses, scratch, small,
      rng: makeRng((o.seed * 7919 + n * 104729) >>> 0),
      get stopAt() {
        return stopAt;
      },
      deadline: () => deadline,
    };
  };

  let fatal: unknown;
  try {
    await cc.start();
    const scheduled = new ScheduleWorkload(ctxFor("schedule", 4));
    await scheduled.start();
    report.log("cluster up: redis, coordinators c0 (leader) and c1, workers w0 and w1; workloads start");
    const faultsFrom = Date.now();
    stopAt = faultsFrom + o.minutes * 60_000;
    const workloads = [
      wordcountWorkload(ctxFor("wordcount", 1)),
      overwriteWorkload(ctxFor("overwrite", 2)),
      ...(pgOk ? [pipelineWorkload(ctxFor("pipeline", 3), databaseUrl, schema)] : []),
    ].map((w) => w.catch((err: Error) => report.note(`a workload crashed: ${err.stack}`)));
    await injectFaults(plan, cc, disk, report, faultsFrom, stopAt, aofLosses);
    if (Date.now() < stopAt) await new Promise((r) => setTimeout(r, stopAt - Date.now()));
    // The faults stop: everything is up (the last fault was undone), the disk has room.
    disk.release();
    deadline = Date.now() + grace;
    report.log(`faults stopped after ${report.faults.length}; what still runs has ${grace / 1000} s to finish`);
    await Promise.all(workloads);
    await scheduled.finish();
  } catch (err) {
    fatal = err;
    report.note(`the runner failed: ${(err as Error).stack}`);
  } finally {
    await cc.close().catch((err: Error) => report.note(`stopping the cluster: ${err.message}`));
    cc.saveLogs(join(root, "logs"));
    disk.unmount();
    if (pgOk) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await admin.end().catch(() => undefined);
  }
  if (cc.crashes.length) report.note(`${cc.crashes.length} processes exited by themselves (see above)`);

  const summary = summarize(report, o.seed, o.minutes, cc.crashes.length);
  if (fatal) summary.ok = false;
  let text = formatSummary(summary, report);
  if (!summary.ok) {
    const bad = report.findings.filter((f) => ["wrong", "partial", "doubled", "lost", "hung"].includes(f.outcome));
    text += `\n\nwhat went wrong:\n${bad.map((f) => `  ${report.offset(report.started + f.at)} ${f.workload}: ${f.outcome}: ${f.what}`).join("\n") || `  ${String(fatal)}`}`;
    text += `\n\nfaults injected (seed ${o.seed}):\n${report.faults.map((f) => `  ${report.offset(report.started + f.at)} ${f.kind} ${f.target} ${f.note}`).join("\n")}`;
    text += `\n\nthe seed's planned schedule:\n${schedule.map((l) => `  ${l}`).join("\n")}`;
    text += `\n\nlog and files kept in ${root}`;
  } else if (!o.keep) {
    rmSync(root, { recursive: true, force: true });
  }
  return { summary, text, logFile: report.logFile, schedule };
}
