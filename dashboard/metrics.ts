/**
 * `/metrics` (Prometheus text format, prom-client): computed on each scrape from cheap reads of
 * Redis (the totals the leader keeps as attempts end, core/cluster/timeline.ts; record states,
 * record-states.ts; the task queue's counts; the workers' heartbeats), never from a scan of tasks or
 * of the finished records, so any coordinator, a standby too, serves the same figures and a scrape
 * costs the cluster a handful of commands plus one per running job and per newly finished one. Names and
 * labels are listed in the README ("Dashboard and metrics").
 */
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { Counter, Gauge, Registry } from "prom-client";
import type { Keys } from "../core/cluster/keys.js";
import { listSchedules } from "../core/cluster/schedules.js";
import { DURATION_BUCKETS, MetricFields, readMetricTotals } from "../core/cluster/timeline.js";
import { listWorkers } from "../core/cluster/workers.js";
import { readRejections } from "../core/security/rejections.js";
import { RecordStates } from "./record-states.js";

const STAGES = ["map", "reduce"] as const;
const OUTCOMES = ["committed", "discarded", "failed", "stopped"] as const;
const QUEUE_STATES = ["wait", "prioritized", "active", "delayed"] as const;

export class ClusterMetrics {
  readonly registry = new Registry();
  private readonly jobs = this.gauge("sheaf_jobs", "Job records in Redis by state (finished ones as retention keeps them).", ["state"]);
  private readonly runs = this.gauge("sheaf_runs", "Pipeline run records in Redis by state.", ["state"]);
  private readonly tasks = this.counter("sheaf_tasks_total", "Task attempts ended, by stage and outcome (committed: won; discarded: succeeded after another attempt had; failed; stopped: cancelled or superseded).", ["stage", "outcome"]);
  private readonly records = this.counter("sheaf_records_total", "Records read (in) and written (out) by committed attempts, by stage (a job's input is its map stage's in, its output its last stage's out).", ["stage", "direction"]);
  private readonly bytes = this.counter("sheaf_bytes_total", "Bytes read (in) and written (out) by committed attempts, by stage.", ["stage", "direction"]);
  private readonly retries = this.counter("sheaf_retries_total", "Attempts that were retries of a failed attempt.", []);
  private readonly speculative = this.counter("sheaf_speculative_attempts_total", "Backup attempts launched for stragglers (counted as they end).", []);
  private readonly lost = this.counter("sheaf_lost_map_outputs_total", "Attempts that found a map output corrupt or missing (its map task is re-run).", []);
  private readonly rejected = this.counter("sheaf_rejected_messages_total", "Messages and records refused (forged, altered, expired, malformed, out of bounds), by reason.", ["reason"]);
  private readonly queueDepth = this.gauge("sheaf_queue_depth", "Entries in the task queue by state (a batch of short tasks is one entry).", ["state"]);
  private readonly inFlight = this.gauge("sheaf_attempts_in_flight", "Attempts dispatched and not finished, over running jobs (from their progress).", []);
  private readonly poolSlots = this.gauge("sheaf_pool_slots", "Task slots out (queued or running) by pool, over running jobs (their fair share: coordinator/fair-share.ts).", ["pool"]);
  private readonly workers = this.gauge("sheaf_workers", "Live worker processes (with a current heartbeat).", []);
  private readonly workerThreads = this.gauge("sheaf_worker_threads", "Threads of the live workers, and how many run an attempt now.", ["state"]);
  private readonly lag = this.gauge("sheaf_schedule_lag_seconds", "Seconds from a schedule's latest started due time to when it fired.", ["schedule"]);
  private readonly paused = this.gauge("sheaf_schedule_paused", "1 for a paused schedule, 0 for an active one.", ["schedule"]);
  private durations: { stage: string; buckets: number[]; inf: number; sum: number }[] = [];
  private readonly jobStates: RecordStates;
  private readonly runStates: RecordStates;

  constructor(private readonly redis: Redis, private readonly keys: Keys, private readonly queue: Queue) {
    this.jobStates = new RecordStates(redis, keys.jobs, (id) => keys.job(id as never));
    this.runStates = new RecordStates(redis, keys.runs, (id) => keys.run(id));
    // A histogram from totals kept in Redis: prom-client's Histogram only observes, so this one is
    // registered as a metric object that reports the stored buckets.
    this.registry.registerMetric({
      name: "sheaf_task_duration_seconds",
      get: async () => ({
        name: "sheaf_task_duration_seconds",
        help: "Task attempts' durations, by stage.",
        type: "histogram",
        aggregator: "sum",
        values: this.durations.flatMap((d) => {
          let cumulative = 0;
          const rows = DURATION_BUCKETS.map((le, i) => ((cumulative += d.buckets[i]!), { metricName: "sheaf_task_duration_seconds_bucket", labels: { stage: d.stage, le }, value: cumulative }));
          const count = cumulative + d.inf;
          return [
            ...rows,
            { metricName: "sheaf_task_duration_seconds_bucket", labels: { stage: d.stage, le: "+Inf" }, value: count },
            { metricName: "sheaf_task_duration_seconds_sum", labels: { stage: d.stage }, value: d.sum },
            { metricName: "sheaf_task_duration_seconds_count", labels: { stage: d.stage }, value: count },
          ];
        }),
      }),
    } as never);
  }

  /** The exposition text, read from Redis now. */
  async scrape(): Promise<string> {
    const [totals, jobStates, runStates, counts, workers, schedules, rejections] = await Promise.all([
      readMetricTotals(this.redis, this.keys),
      this.jobStates.counts(),
      this.runStates.counts(),
      this.queue.getJobCounts(...QUEUE_STATES),
      listWorkers(this.redis, this.keys).catch(() => []),
      listSchedules(this.redis, this.keys),
      readRejections(this.redis, this.keys),
    ]);
    setAll(this.jobs, jobStates.byState, ["queued", "running", "succeeded", "failed", "cancelled"]);
    setAll(this.runs, runStates.byState, ["queued", "running", "succeeded", "failed", "cancelled"]);
    // Progress of the running jobs only (a finished job's is its whole report).
    let inFlight = 0;
    const pools: Record<string, number> = {};
    for (const text of jobStates.running) {
      try {
        const p = JSON.parse(text ?? "{}") as { running?: number; share?: { pool?: string; slots?: number } };
        inFlight += Number(p.running ?? 0) || 0;
        if (typeof p.share?.pool === "string") pools[p.share.pool] = (pools[p.share.pool] ?? 0) + (Number(p.share.slots) || 0);
      } catch {}
    }
    this.inFlight.reset();
    this.inFlight.set(inFlight);
    this.poolSlots.reset();
    for (const [pool, slots] of Object.entries(pools)) this.poolSlots.set({ pool }, slots);
    const total = (field: string) => totals[field] ?? 0;
    this.tasks.reset();
    for (const stage of STAGES) for (const outcome of OUTCOMES) this.tasks.inc({ stage, outcome }, total(MetricFields.tasks(stage, outcome)));
    for (const [metric, field] of [[this.records, MetricFields.records], [this.bytes, MetricFields.bytes]] as const) {
      metric.reset();
      for (const stage of STAGES) for (const direction of ["in", "out"] as const) metric.inc({ stage, direction }, total(field(stage, direction)));
    }
    for (const [metric, field] of [[this.retries, MetricFields.retries], [this.speculative, MetricFields.speculative], [this.lost, MetricFields.lostMapOutputs]] as const) {
      metric.reset();
      metric.inc(total(field));
    }
    this.rejected.reset();
    for (const [reason, n] of Object.entries(rejections)) this.rejected.inc({ reason }, n);
    this.queueDepth.reset();
    for (const state of QUEUE_STATES) this.queueDepth.set({ state }, counts[state] ?? 0);
    this.workers.reset();
    this.workers.set(workers.length);
    this.workerThreads.reset();
    const threads = workers.reduce((n, w) => n + w.threads, 0);
    const busy = workers.reduce((n, w) => n + Math.min(w.threads, w.runningCount), 0);
    this.workerThreads.set({ state: "busy" }, busy);
    this.workerThreads.set({ state: "idle" }, threads - busy);
    this.lag.reset();
    this.paused.reset();
    for (const s of schedules) {
      this.paused.set({ schedule: s.spec.name }, s.state === "paused" ? 1 : 0);
      const started = s.history.find((e) => e.outcome === "started");
      if (started) this.lag.set({ schedule: s.spec.name }, Math.max(0, (started.at - started.due) / 1000));
    }
    this.durations = STAGES.map((stage) => ({
      stage,
      buckets: DURATION_BUCKETS.map((le) => total(MetricFields.durationBucket(stage, String(le)))),
      inf: total(MetricFields.durationBucket(stage, "+Inf")),
      sum: total(MetricFields.durationSum(stage)) / 1000,
    }));
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private gauge(name: string, help: string, labelNames: string[]): Gauge {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private counter(name: string, help: string, labelNames: string[]): Counter {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}

function setAll(g: Gauge, values: Record<string, number>, always: readonly string[]): void {
  g.reset();
  for (const state of new Set([...always, ...Object.keys(values)])) g.set({ state }, values[state] ?? 0);
}
