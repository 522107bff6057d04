/**
 * What a chaos run saw: a log of timed events (faults and workload outcomes), the tallies, and the
 * summary printed at the end. A run fails on any wrong, partial, doubled or lost output, or any
 * hung run; the failure prints the seed and the whole fault schedule, so it replays.
 */
import { appendFileSync } from "node:fs";

/** How one submitted job, run or check ended. */
export type Outcome =
  | "ok" // succeeded, output checked against its oracle
  | "failed-clean" // failed (retries exhausted, disk full, a refused commit): the previous output intact, nothing partial
  | "refused" // refused at submit (one writer per output, a full disk at bundling): nothing changed
  | "skipped" // a pipeline stage or schedule due time skipped as documented
  | "lost-with-aof" // acknowledged less than the AOF's lost second before Redis died with it (appendfsync everysec's bound)
  | "wrong" // an output or table that is not its oracle's, or not old-or-new
  | "partial" // part files without _SUCCESS, a table half loaded
  | "doubled" // rows loaded twice, a due time run twice
  | "lost" // reported succeeded but the output is not there, or a job record gone without an AOF loss to explain it
  | "hung"; // not finished within the deadline after the faults stopped

export const BAD: readonly Outcome[] = ["wrong", "partial", "doubled", "lost", "hung"];

export interface Finding {
  at: number;
  workload: string;
  outcome: Outcome;
  what: string;
}

export class Report {
  readonly started = Date.now();
  readonly faults: { at: number; kind: string; target: string; note: string }[] = [];
  readonly tallies = new Map<string, Map<Outcome, number>>();
  readonly findings: Finding[] = [];
  readonly notes: string[] = [];

  constructor(readonly logFile: string, readonly echo: boolean) {}

  /** Seconds since the start, as each log line shows them. */
  offset(t = Date.now()): string {
    return `+${((t - this.started) / 1000).toFixed(1)}s`;
  }

  log(line: string): void {
    const text = `[${this.offset()}] ${line}`;
    appendFileSync(this.logFile, text + "\n");
    if (this.echo) console.log(text);
  }

  fault(kind: string, target: string, note = ""): void {
    this.faults.push({ at: Date.now() - this.started, kind, target, note });
    this.log(`FAULT ${kind} ${target}${note ? ` (${note})` : ""}`);
  }

  note(text: string): void {
    this.notes.push(text);
    this.log(`NOTE ${text}`);
  }

  outcome(workload: string, outcome: Outcome, what: string): void {
    const t = this.tallies.get(workload) ?? new Map<Outcome, number>();
    t.set(outcome, (t.get(outcome) ?? 0) + 1);
    this.tallies.set(workload, t);
    if (outcome !== "ok") this.findings.push({ at: Date.now() - this.started, workload, outcome, what });
    this.log(`${BAD.includes(outcome) ? "BAD " : ""}${workload}: ${outcome}: ${what}`);
  }

  count(outcome: Outcome): number {
    let n = 0;
    for (const t of this.tallies.values()) n += t.get(outcome) ?? 0;
    return n;
  }

  get failed(): boolean {
    return BAD.some((o) => this.count(o) > 0);
  }

  faultsByKind(): Record<string, number> {
    const by: Record<string, number> = {};
    for (const f of this.faults) by[f.kind] = (by[f.kind] ?? 0) + 1;
    return by;
  }
}

export interface Summary {
  seed: number;
  minutes: number;
  wallSeconds: number;
  faults: number;
  faultsByKind: Record<string, number>;
  outcomes: Record<string, Record<string, number>>;
  completed: number;
  wrong: number;
  partial: number;
  doubled: number;
  lost: number;
  hung: number;
  lostWithAof: number;
  failedClean: number;
  refused: number;
  /** Coordinators and workers that exited without a fault killing them (restarted; each is in the notes). */
  crashes: number;
  ok: boolean;
}

export function summarize(r: Report, seed: number, minutes: number, crashes: number): Summary {
  const outcomes: Record<string, Record<string, number>> = {};
  for (const [w, t] of r.tallies) outcomes[w] = Object.fromEntries(t);
  return {
    seed,
    minutes,
    wallSeconds: Math.round((Date.now() - r.started) / 1000),
    faults: r.faults.length,
    faultsByKind: r.faultsByKind(),
    outcomes,
    completed: r.count("ok"),
    wrong: r.count("wrong"),
    partial: r.count("partial"),
    doubled: r.count("doubled"),
    lost: r.count("lost"),
    hung: r.count("hung"),
    lostWithAof: r.count("lost-with-aof"),
    failedClean: r.count("failed-clean"),
    refused: r.count("refused"),
    crashes,
    ok: !r.failed,
  };
}

/** The summary as people read it. */
export function formatSummary(s: Summary, r: Report): string {
  const lines = [
    `chaos summary: seed ${s.seed}, ${s.minutes} min of faults, ${s.wallSeconds} s wall`,
    `  faults injected: ${s.faults} (${Object.entries(s.faultsByKind).sort().map(([k, n]) => `${k} ${n}`).join(", ")})`,
    `  completed and checked: ${s.completed}; failed cleanly: ${s.failedClean}; refused: ${s.refused}; lost with the AOF's last second: ${s.lostWithAof}`,
    `  wrong ${s.wrong}, partial ${s.partial}, doubled ${s.doubled}, lost ${s.lost}, hung ${s.hung}`,
    `  processes that exited by themselves: ${s.crashes}`,
    ...Object.entries(s.outcomes).sort().map(([w, t]) => `  ${w}: ${Object.entries(t).map(([o, n]) => `${o} ${n}`).join(", ")}`),
    ...r.notes.map((n) => `  note: ${n}`),
    s.ok ? "  RESULT: OK" : `  RESULT: FAILED (replay: npm run chaos -- --seed ${s.seed} --minutes ${s.minutes})`,
  ];
  return lines.join("\n");
}
