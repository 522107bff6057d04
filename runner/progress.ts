/** Live progress: one redrawn line on a terminal, plain lines otherwise (at stage changes and every 10%). */
import type { JobProgress, JobReport } from "../core/progress.js";
import type { TaskFailure } from "../core/tasks.js";
import { bytes, count, countersText, duration, plural, rate } from "./format.js";
import { progressFigures } from "./progress-figures.js";

export class ProgressReporter {
  private latest: JobProgress | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastStage = "";
  private lastDecile = -1;
  private drawn = false;

  constructor(private readonly jobName: string, private readonly out: NodeJS.WriteStream = process.stderr) {
    if (out.isTTY) this.timer = setInterval(() => this.draw(), 200).unref();
  }

  update(p: JobProgress): void {
    this.latest = p;
    if (this.out.isTTY) return;
    const done = p.stage === "map" ? p.mapsDone / Math.max(1, p.mapsTotal) : p.reducesDone / Math.max(1, p.reducesTotal);
    const decile = Math.floor(done * 10);
    if (p.stage !== this.lastStage || decile > this.lastDecile) {
      this.lastStage = p.stage;
      this.lastDecile = decile;
      this.out.write(this.line(p) + "\n");
    }
  }

  attemptFailed(f: TaskFailure, willRetry: boolean): void {
    this.clear();
    this.out.write(`${this.jobName}: task ${f.taskId} attempt ${f.attempt} failed${willRetry ? " (will retry)" : ""}: ${f.message}\n`);
  }

  /** A line of its own between progress updates. */
  note(text: string): void {
    this.clear();
    this.out.write(text + "\n");
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.clear();
  }

  summary(r: JobReport, output: string): string {
    const lines = [
      `${this.jobName} succeeded in ${duration(r.millis)}: ${plural(r.mapsTotal, "map task")}, ${plural(r.reducesTotal, "reduce task")}`,
      `  input   ${plural(r.recordsIn, "record")}, ${bytes(r.bytesIn)} (${bytes(rate(r.bytesIn, r.millis))}/s)`,
      `  output  ${plural(r.recordsOut, "record")}, ${bytes(r.bytesOut)} in ${plural(r.parts, "part file")}: ${output}`,
    ];
    if (r.resumedBytes || r.resumedKeys) lines.push(`  resumed from checkpoints: ${bytes(r.resumedBytes)} of map input and ${count(r.resumedKeys)} reduce keys not redone`);
    const counters = countersText(r.counters);
    if (counters) lines.push(`  counters ${counters}`);
    return lines.join("\n");
  }

  private line(p: JobProgress): string {
    const f = progressFigures(p);
    const parts = [`${this.jobName}`, `map ${p.mapsDone}/${p.mapsTotal}`];
    if (p.reducesTotal > 0) parts.push(`reduce ${p.reducesDone}/${p.reducesTotal}`);
    parts.push(`${count(Math.round(f.recordsPerSec))} rec/s`, `${bytes(f.bytesPerSec)}/s`);
    if (f.etaMs !== undefined) parts.push(`ETA ${duration(f.etaMs)}`);
    parts.push(duration(f.elapsedMs));
    return parts.join("  ");
  }

  private draw(): void {
    if (!this.latest) return;
    this.out.write(`\r\x1b[K${this.line(this.latest)}`);
    this.drawn = true;
  }

  private clear(): void {
    if (this.drawn) this.out.write("\r\x1b[K");
    this.drawn = false;
  }
}
