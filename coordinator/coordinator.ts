/**
 * `sheaf coordinator`: holds the leader lease and drives every queued or running job in Redis,
 * each with the same JobDriver `sheaf run` uses, over the BullMQ task queue. A job's committed
 * results live in Redis, so a restarted (or standby) coordinator resumes it where it stood.
 */
import { mkdirSync } from "node:fs";
import { DEFAULT_RETRY } from "../engine/retry.js";
import { SERVICE_DEFAULTS } from "../core/defaults.js";
import { Queue, QueueEvents } from "bullmq";
import type { Redis } from "ioredis";
import { artifactHash } from "../core/artifact.js";
import { FINISHED, readJob, unfinishedJobs, type JobSubmission } from "../core/cluster/jobs.js";
import { adoptLegacyRecords } from "../core/cluster/records.js";
import { LeaderWrites, type Fence } from "../core/cluster/state/leader-writes.js";
import { decodeEvent, publishEvent } from "../core/cluster/state/events.js";
import { readField, RECORD_FIELDS } from "../core/cluster/state/fields.js";
import { isRunId, unfinishedRuns } from "../core/cluster/runs.js";
import { Keys, TASK_QUEUE } from "../core/cluster/keys.js";
import { checkEvictionPolicy, connectRedis, logQueueErrors } from "../core/cluster/redis.js";
import { createLogger, type LogFormat, type Logger } from "../core/log.js";
import { causeAfter, messageOf, SheafError } from "../core/errors.js";
import type { JobId } from "../core/ids.js";
import { jobScratchDir, objectOutputScratch } from "../core/storage.js";
import { isObjectUrl } from "../core/store/location.js";
import { outputLock, outputSink, writesFiles } from "../core/formats/registry.js";
import type { OutputFormat } from "../core/api/formats.js";
import { markClusterOwner } from "../core/leftovers.js";
import { processAlive, releaseOutput, takeOutputWhenFree, type OutputLock, type WriterLock } from "../core/output-writer-lock.js";
import { killAfterCommitStep, OutputCommitter } from "../engine/committer.js";
import { Interrupted, JobDriver } from "../engine/driver.js";
import { LeaderLease } from "./leader.js";
import { planOptionsOf, type JobPlan } from "../engine/plan.js";
import { readStoredPlan } from "../engine/stored-plan.js";
import { planIsolated, stopPlanning, type IsolationLimits } from "../engine/plan-isolated.js";
import { QueueExecutor } from "./queue-executor.js";
import { TimelineWriter } from "./timeline-writer.js";
import { RedisJobStore } from "./redis-job-store.js";
import { Retention, type RetentionOptions } from "./retention.js";
import { RunDriver } from "./run-driver.js";
import { admitRecord, checkSubmission, checkPlan } from "../engine/admission.js";
import { AllowedRoots } from "../core/security/roots.js";
import { FairShare, type Pool } from "./fair-share.js";
import { OPEN_CLUSTER_WARNING, signerFromEnv, type Signer } from "../core/security/signing.js";
import { Scheduler } from "./scheduler.js";
import { Notifier, type NotifierOptions } from "./notifier.js";
import { keepWorkerScriptsLoaded } from "./worker-scripts.js";
import { plural } from "../core/show.js";

export interface CoordinatorOptions {
  redisUrl: string;
  /** Namespace of every key. @defaultValue "sheaf" */
  prefix?: string;
  /** How often to look for new jobs besides the submit notifications. @defaultValue 1000 */
  pollMs?: number;
  /** Leader lease length. @defaultValue 5000 */
  leaseMs?: number;
  /** Default reduce partitions for jobs that name none. @defaultValue 4 */
  defaultPartitions?: number;
  /**
   * Limits on planning a job, which runs the job module's top-level code: in a thread of its own,
   * stopped past `timeoutMs` (default 2 min) or `memoryMb` of heap (default 1024).
   */
  planLimits?: IsolationLimits;
  /** How many finished jobs and runs to keep, how long, and when an unreferenced artifact goes. */
  retention?: RetentionOptions;
  /** Where log lines go. @defaultValue stderr, in `logFormat` */
  log?: Logger;
  /** The lines' format on stderr when no `log` is given. @defaultValue "text" */
  logFormat?: LogFormat;
  /** Verifies job and run records and signs task messages. @defaultValue from `SHEAF_SECRET`; none leaves the cluster open */
  signer?: Signer;
  /** Where jobs may read and write. @defaultValue `SHEAF_ALLOW_ROOTS`, else anywhere */
  roots?: AllowedRoots;
  /** Pools the workers' slots are shared among (fair-share.ts); `fifo`: every job's tasks queued at once, in order. @defaultValue fair, one pool */
  pools?: Pool[];
  scheduling?: "fair" | "fifo";
  /** Alerts for every job and run (`--notify`), beside each one's own. @defaultValue none but their own */
  notify?: NotifierOptions;
}


export class Coordinator {
  private readonly keys: Keys;
  private readonly log: Logger;
  private readonly stopping = new AbortController();
  private redis!: Redis;
  private sub!: Redis;
  private queue!: Queue;
  private events!: QueueEvents;
  private eventsConnection: Redis | undefined;
  private lease!: LeaderLease;
  private leaseConnection: Redis | undefined;
  private scheduler!: Scheduler;
  private retention!: Retention;
  private notifier!: Notifier;
  private readonly drivers = new Map<JobId, { abort: AbortController; done: Promise<void> }>();
  private poller: NodeJS.Timeout | undefined;
  /** Until the first scan of a leadership has listed the jobs to resume. */
  private resuming = false;
  private readonly signer: Signer | undefined;
  private readonly roots: AllowedRoots;
  /** The workers' slots, shared among the jobs this coordinator drives. */
  private readonly share: FairShare;

  constructor(private readonly options: CoordinatorOptions) {
    this.share = new FairShare(options.pools, options.scheduling);
    this.keys = new Keys(options.prefix ?? "sheaf");
    this.log = options.log ?? createLogger("coordinator", options.logFormat);
    this.signer = "signer" in options ? options.signer : signerFromEnv();
    this.roots = options.roots ?? AllowedRoots.from();
  }

  async start(): Promise<void> {
    const { redisUrl } = this.options;
    if (!this.signer) this.log(OPEN_CLUSTER_WARNING);
    this.redis = connectRedis(redisUrl, "coordinator", this.log);
    await checkEvictionPolicy(this.redis);
    await keepWorkerScriptsLoaded(this.redis, this.log);
    this.sub = connectRedis(redisUrl, "coordinator-events");
    this.queue = new Queue(TASK_QUEUE, { connection: this.redis, prefix: this.keys.prefix });
    // QueueEvents blocks on its connection; BullMQ does not close a connection it was given.
    this.eventsConnection = connectRedis(redisUrl, "coordinator-queue-events");
    this.events = new QueueEvents(TASK_QUEUE, { connection: this.eventsConnection, prefix: this.keys.prefix });
    this.events.setMaxListeners(0); // each job's executor listens (queue-results.ts)
    logQueueErrors(this.queue, "task queue", this.log);
    logQueueErrors(this.events, "task queue events", this.log);
    await this.events.waitUntilReady();
    // The lease has a connection of its own whose commands fail instead of queueing through an
    // outage: a renewal that cannot be confirmed must be noticed before the lease runs out.
    this.leaseConnection = connectRedis(redisUrl, "coordinator-lease", undefined, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    this.lease = new LeaderLease(this.leaseConnection, this.keys, { leaseMs: this.options.leaseMs });
    this.retention = new Retention(this.redis, this.keys, this.options.retention ?? {}, this.log);
    this.notifier = new Notifier(this.redis, this.keys, this.options.notify ?? {}, this.log);
    this.scheduler = new Scheduler(this.redis, this.keys, () => connectRedis(redisUrl, "coordinator-schedules"), () => this.leaderFence(), this.log, this.options.planLimits, this.signer);
    void this.lead();
  }

  /** Waits for the lease, then drives jobs until the lease is lost (then waits again) or the coordinator stops. */
  private async lead(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      this.log(`waiting for the leader lease (${this.keys.leader})`);
      const lost = new AbortController();
      if (!(await this.lease.acquire(this.stopping.signal, () => lost.abort()))) return;
      this.log(`leader (epoch ${this.lease.epoch}); resuming unfinished jobs`);
      await this.adoptLegacyRecords();
      await this.sub.subscribe(this.keys.events);
      const onMessage = (_channel: string, message: string) => {
        const event = decodeEvent(message);
        // A finished run frees its schedule for the next due time: look at once, not at the next poll.
        if (event?.kind === "submitted" || event?.kind === "schedule" || event?.kind === "finished") void this.scan();
        if (event?.kind === "cancel") this.drivers.get(event.id as JobId)?.abort.abort();
      };
      this.sub.on("message", onMessage);
      this.scheduler.start();
      // Fair turns go on from the next queue job the last leader left: its tasks keep their place.
      const [next] = await this.queue.getPrioritized(0, 0).catch(() => []);
      if (next?.opts.priority) this.share.resumeAt(next.opts.priority);
      this.resuming = true;
      this.poller = setInterval(() => void this.scan(), this.options.pollMs ?? SERVICE_DEFAULTS.pollMs);
      await this.scan();
      // The listener on `stopping` is removed after: leases lost and won again must not pile them up.
      await new Promise<void>((resolve) => {
        const done = () => (this.stopping.signal.removeEventListener("abort", done), resolve());
        lost.signal.addEventListener("abort", done, { once: true });
        this.stopping.signal.addEventListener("abort", done, { once: true });
      });
      clearInterval(this.poller);
      this.sub.off("message", onMessage);
      // Said and done first: the rest may wait for a Redis that is unreachable (why the lease was lost).
      if (lost.signal.aborted) this.log("lost the leader lease; stopping every job driver");
      const stopped = this.interruptAll(lost.signal.aborted ? "lost the leader lease" : "coordinator stopping");
      await this.scheduler.stop();
      // Bounded: a Redis that is down must not keep this coordinator from standing by for the lease.
      await Promise.race([this.sub.unsubscribe().catch(() => {}), new Promise((r) => setTimeout(r, 2_000).unref())]);
      await stopped;
      await this.lease.release();
    }
  }

  private async scan(): Promise<void> {
    if (!this.lease.isHeld || this.stopping.signal.aborted) return;
    let ids: JobId[];
    try {
      ids = await unfinishedJobs(this.redis, this.keys);
    } catch (err) {
      this.log(`cannot list jobs: ${messageOf(err)}`);
      return;
    }
    // The lease may have been lost while listing: a step-down must not start drivers behind it.
    if (!this.lease.isHeld) return;
    // The jobs a new leader finds are resumed together, so their shares count them all from the start.
    if (this.resuming) this.share.hold(ids.filter((id) => !this.drivers.has(id)));
    this.resuming = false;
    for (const id of ids) if (!this.drivers.has(id)) this.drive(id);
    let runs: string[] = [];
    try {
      runs = await unfinishedRuns(this.redis, this.keys);
    } catch (err) {
      this.log(`cannot list pipeline runs: ${messageOf(err)}`);
    }
    if (!this.lease.isHeld) return;
    for (const id of runs) if (!this.drivers.has(id as JobId)) this.driveRun(id);
    await this.checkCancels().catch((err) => this.log(`cannot read cancel flags: ${messageOf(err)}`));
    await this.scheduler.tick();
    // In the background: a slow webhook never holds up the scan (nor the jobs).
    if (this.lease.isHeld) void this.notifier.tick();
    if (this.lease.isHeld) await this.retention.sweep().catch((err) => this.log(`retention: ${messageOf(err)}`));
  }

  /** Records from a version without the unfinished and finished sets join them (once; see adoptLegacyRecords). */
  private async adoptLegacyRecords(): Promise<void> {
    try {
      const n = (await adoptLegacyRecords(this.redis, this.keys.jobs, (id) => this.keys.job(id as JobId))) + (await adoptLegacyRecords(this.redis, this.keys.runs, (id) => this.keys.run(id)));
      if (n) this.log(`sorted ${plural(n, "record")} from an earlier version into the unfinished and finished sets`);
    } catch (err) {
      this.log(`cannot sort earlier records: ${messageOf(err)}`);
    }
  }

  /**
   * The cancel flag in each record is the truth; the pub/sub message only makes it quick. A message
   * missed during a reconnect still cancels the job (or run) at the next scan.
   */
  private async checkCancels(): Promise<void> {
    const live = [...this.drivers].filter(([, d]) => !d.abort.signal.aborted);
    if (live.length === 0) return;
    const pipe = this.redis.pipeline();
    for (const [id] of live) pipe.hget(isRunId(id) ? this.keys.run(id) : this.keys.job(id), RECORD_FIELDS.cancel);
    const flags = (await pipe.exec()) ?? [];
    live.forEach(([id, d], i) => {
      if (flags[i]?.[1] === "1") {
        this.log(`${isRunId(id) ? "pipeline run" : "job"} ${id}: cancel requested`, { job: id });
        d.abort.abort();
      }
    });
  }

  private driveRun(id: string): void {
    const abort = new AbortController();
    const done = new RunDriver(this.redis, this.keys, this.leaderFence(), this.log, this.signer, this.roots)
      .drive(id, abort.signal)
      .catch(async (err) => this.log(`pipeline run ${id}: ${messageOf(err)}; ${await this.fateOf(this.keys.run(id))}`, { job: id, level: "warn" }))
      .finally(() => this.drivers.delete(id as JobId));
    this.drivers.set(id as JobId, { abort, done });
  }

  private drive(id: JobId): void {
    const abort = new AbortController();
    const done = this.runJob(id, abort.signal)
      .catch(async (err) => this.log(`job ${id}: ${messageOf(err)}; ${await this.fateOf(this.keys.job(id))}`, { job: id, level: "warn" }))
      .finally(() => (this.drivers.delete(id), this.share.release(id)));
    this.drivers.set(id, { abort, done });
  }

  /**
   * What becomes of a job or run this coordinator stopped driving: resumed by the next leader or scan
   * while its record is in Redis; nothing, once the record is gone (a wipe, an AOF cut short).
   */
  private async fateOf(key: string): Promise<string> {
    const there = await Promise.race([this.redis.exists(key).catch(() => undefined), new Promise<undefined>((r) => setTimeout(() => r(undefined), 2_000).unref())]);
    if (there === 1) return "left to resume";
    if (there === 0) return "given up: its record is gone from Redis (a wipe, or a restart that lost it), so nothing will resume it";
    return "left to resume if its record is still in Redis (Redis did not answer)";
  }

  private async runJob(id: JobId, signal: AbortSignal): Promise<void> {
    const jobKey = this.keys.job(id);
    const writes = new LeaderWrites(this.redis, this.keys, this.leaderFence());
    const started = await writes.start("job", id).catch((err: unknown) => {
      if (err instanceof Interrupted) return "finished" as const; // not this leader's to start
      throw err;
    });
    if (started === "finished") return;
    const record = await readJob(this.redis, this.keys, id);
    if (!record || FINISHED.has(record.state)) return;
    const spec = record.spec;
    const resumed = started === "resumed";
    if (!resumed) this.share.release(id); // a new job plans from its inputs, which may take long: not held for
    const store = new RedisJobStore(this.redis, this.keys, id, this.leaderFence(), this.signer);
    this.log(`${resumed ? "resuming" : "starting"} job ${id}`, { job: id });
    let lock: OutputLock | undefined;
    let executor: QueueExecutor | undefined;
    const attempts = new TimelineWriter(this.redis, this.keys, id);
    try {
      if (record.cancelRequested) throw new SheafError("JOB_CANCELLED", "cancelled");
      await this.admit(spec);
      this.retention.noteAdmittedWorkdir(spec.workdir);
      const plan = checkPlan(await this.planOf(spec, resumed, signal, store), spec, this.roots);
      if (signal.reason instanceof Interrupted) throw signal.reason; // stopped while planning
      lock = await outputLock(plan.config.formats.output, spec.output, plan.config.objectOutput);
      await this.prepareOutput(id, spec, plan, store, resumed, signal, lock);
      const retry = { maxAttempts: spec.maxAttempts, backoffMs: DEFAULT_RETRY.backoffMs };
      const member = this.share.join(id, spec.pool, spec.priority, () => executor?.wake());
      store.shareOf = () => this.share.shareOf(member);
      executor = new QueueExecutor(this.queue, this.events, this.redis, (bullId) => publishEvent(this.redis, this.keys, { kind: "stop", id: bullId }), this.signer, member);
      const driver = new JobDriver(plan, executor, {
        store,
        prepareOutput: false,
        overwrite: spec.overwrite,
        onCommitStep: killAfterCommitStep(),
        startedAt: record.startedAt,
        retry,
        signal,
        onAttemptFailed: (f, willRetry) =>
          this.log(`job ${id}: task ${f.taskId} attempt ${f.attempt} failed${willRetry ? " (will retry)" : ""}: ${f.message}`, { job: id, task: f.taskId, attempt: f.attempt, level: "warn" }),
        onAttemptEnded: (a) => attempts.add(a),
      });
      const report = await driver.run();
      await Promise.all([store.flush(report), attempts.flush()]);
      await this.finish(id, spec.output, lock, "succeeded");
      this.log(`job ${id} succeeded in ${report.millis} ms`, { job: id });
    } catch (err) {
      try {
        if (err instanceof Interrupted) throw err;
        const cancelled = signal.aborted || (await readField(this.redis, jobKey, "cancel")) === "1";
        await Promise.all([store.flush().catch(() => {}), attempts.flush()]);
        await this.finish(id, spec.output, lock, cancelled ? "cancelled" : "failed", cancelled ? "cancelled" : messageOf(err));
        this.log(`job ${id} ${cancelled ? "cancelled" : `failed: ${causeAfter(messageOf(err), `job ${spec.name}`)}`}`, { job: id, level: cancelled ? "info" : "error" });
      } catch (interrupted) {
        if (!(interrupted instanceof Interrupted)) throw interrupted;
        this.log(`job ${id} ${await this.fateOf(jobKey)}: ${interrupted.message}`, { job: id, level: "warn" });
      }
    } finally {
      await executor?.close();
      // Not awaited: a leader stepping down because Redis is unreachable must not wait for it here.
      void attempts.flush();
    }
  }

  /** A job record is planned only if it is signed (with a secret), well formed, and inside the allowed roots; a refusal is counted. */
  private admit(spec: JobSubmission): Promise<void> {
    return admitRecord(this.redis, this.keys, this.signer, "job", spec, `job ${spec.id}`, () => checkSubmission(spec, this.roots));
  }

  /**
   * Clears the output folder once per job, and records that it did: a resumed job must not clear
   * the parts it already committed, but one whose coordinator died before this point still must.
   */
  private async prepareOutput(id: JobId, spec: JobSubmission, plan: JobPlan, store: RedisJobStore, resumed: boolean, signal: AbortSignal, lock: OutputLock): Promise<void> {
    // One writer per output folder or sink table (a resume takes it again: it holds it already).
    const take = async () => {
      await store.guard("take the output");
      await lock.take(id, "cluster", (holder) => this.holderAlive(holder));
    };
    if (spec.waitForOutput) await takeOutputWhenFree(take, { signal, onWait: (busy) => this.log(`job ${id} waits (--wait-for-output): ${busy}`, { job: id }) });
    else await take();
    // Marked with this cluster's prefix: retention collects it if the job is lost, and no other cluster does.
    // (In a store workdir the scratch space holds objects only, removed when the job ends.)
    await store.guard("mark the scratch folder");
    if (!isObjectUrl(plan.config.scratch)) {
      mkdirSync(plan.config.scratch, { recursive: true });
      markClusterOwner(plan.config.scratch, this.keys.prefix);
    }
    if (resumed && (await readField(this.redis, this.keys.job(id), "prepared")) === "1") return;
    await new OutputCommitter(plan.config, await outputSink(plan.config.formats.output, plan.config.objectOutput), (what) => store.guard(what)).prepare(spec.overwrite);
    await new LeaderWrites(this.redis, this.keys, this.leaderFence()).prepared(id);
  }

  /**
   * The output lock of a job this leader ended before it looked the lock up (a resumed job
   * cancelled or refused first): from the plan an earlier leader stored. Only released with it, so
   * its signature is not needed; a sink's row of this job must not outlive it.
   */
  private async storedLock(id: JobId, output: string): Promise<OutputLock | undefined> {
    try {
      const plan = JSON.parse((await readField(this.redis, this.keys.job(id), "plan")) ?? "null") as { config?: { formats?: { output?: OutputFormat }; objectOutput?: string } } | null;
      const format = plan?.config?.formats?.output;
      const objectOutput = plan?.config?.objectOutput;
      return format && (objectOutput || !writesFiles(format)) ? await outputLock(format, output, objectOutput) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Whether the job holding an output still runs: a cluster job by its record, a `sheaf run` by its process. */
  private async holderAlive(holder: WriterLock): Promise<boolean> {
    if (holder.by !== "cluster") return processAlive(holder);
    const state = await readField(this.redis, this.keys.job(holder.jobId as JobId), "state");
    return state === "queued" || state === "running";
  }

  /**
   * The plan is computed once and stored with the job (fenced, first wins), so a resumed job — or
   * a leader that planned at the same time as a stale one — runs exactly the same tasks. Planning
   * imports the job module, so it runs in a thread of its own (plan-isolated.ts): a module that
   * exits, loops or fills the heap at load fails its own job, not this coordinator. Unchecked:
   * the caller checks it (checkPlan), read back or fresh.
   */
  private async planOf(spec: JobSubmission, resumed: boolean, signal: AbortSignal, store: RedisJobStore): Promise<unknown> {
    if (resumed) {
      const stored = await store.storedPlan(); // its signature checked; its content by checkPlan, as a fresh one is
      if (stored) return readStoredPlan(JSON.parse(stored));
    }
    const scratch = jobScratchDir(spec.workdir, spec.id);
    // A sink's output, and (in a store workdir) the job's own object output, is the scratch's own: not an object output.
    const objectOutput = isObjectUrl(spec.output) && spec.output !== objectOutputScratch(scratch);
    const request = {
      artifact: spec.artifact,
      label: spec.name,
      ...(spec.stage ? { stage: spec.stage } : {}),
      base: {
        jobId: spec.id,
        name: spec.name,
        artifact: artifactHash(spec.artifact),
        workdir: spec.workdir,
        params: spec.params,
        cwd: spec.cwd,
        // Parts bound for an object store are written in the scratch space first (core/store/object-output.ts).
        ...(objectOutput ? { output: objectOutputScratch(scratch), objectOutput: spec.output } : { output: spec.output }),
        scratch,
        sortBufferBytes: spec.sortBufferBytes,
        ...(spec.stage ? { stage: spec.stage, fingerprint: spec.fingerprint } : {}),
      },
      options: planOptionsOf(spec, this.options.defaultPartitions),
    };
    const compact = await planIsolated(request, `job ${spec.name}`, this.options.planLimits, signal);
    return readStoredPlan(JSON.parse(await store.storePlan(compact)));
  }

  /** Records the outcome, stops stray attempts on workers, and drops the job's queue entries and commit records. */
  private async finish(id: JobId, output: string, lock: OutputLock | undefined, state: "succeeded" | "failed" | "cancelled", error = ""): Promise<void> {
    lock ??= await this.storedLock(id, output); // read before FINISH drops the plan
    await new LeaderWrites(this.redis, this.keys, this.leaderFence()).finishJob(id, state, error);
    // Given back before the end is announced: whoever waited for this job may write the output next.
    if (!isObjectUrl(output)) releaseOutput(output, id); // an output folder's, even if this leader did not take it (a resume that failed before)
    await lock?.release(id);
    await publishEvent(this.redis, this.keys, { kind: "finished", id });
    if (state !== "succeeded") await publishEvent(this.redis, this.keys, { kind: "cancel", id });
    await this.removeTasks(id);
  }

  /** This leadership's fence: its epoch, and the lease's local deadline (a paused leader must not act even before Redis answers). */
  private leaderFence(): Fence {
    const epoch = this.lease.epoch;
    return { holder: this.lease.holder, epoch, held: () => this.lease.isHeld && this.lease.epoch === epoch };
  }

  /**
   * Removes the job's queue entries. A task still running (locked) cannot be removed until its worker
   * stops it, and a stopped attempt may come back as a retry: so it looks again, for a few seconds,
   * until none is left.
   */
  private async removeTasks(id: JobId): Promise<void> {
    const queueKey = this.queue.toKey("");
    const prefix = `${queueKey}${id}.`;
    for (let round = 0; round < 10; round++) {
      let left = 0;
      let cursor = "0";
      do {
        const [next, found] = await this.redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
        cursor = next;
        const ids = new Set(found.map((k) => k.slice(queueKey.length).split(":")[0]!));
        left += ids.size;
        await Promise.all([...ids].map((jid) => this.queue.remove(jid).catch(() => 0)));
      } while (cursor !== "0");
      if (left === 0) return;
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  private async interruptAll(why: string): Promise<void> {
    const running = [...this.drivers.values()];
    for (const d of running) d.abort.abort(new Interrupted(why));
    await Promise.allSettled(running.map((d) => d.done));
  }

  /** Stops driving jobs (they stay running in Redis for the next coordinator) and disconnects. */
  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.poller) clearInterval(this.poller);
    await this.scheduler?.stop();
    await this.interruptAll("coordinator stopping");
    await this.notifier?.stop();
    await stopPlanning(); // the idle planning threads (the ones interrupted above ended with their plans)
    await this.lease?.release();
    await this.events?.close();
    await this.queue?.close();
    this.eventsConnection?.disconnect();
    this.leaseConnection?.disconnect();
    this.sub?.disconnect();
    this.redis?.disconnect();
  }
}

