/** The `sheaf` command line. */
import { availableParallelism, hostname } from "node:os";
import { resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import type { Redis } from "ioredis";
import type { Keys } from "../core/cluster/keys.js";
import { SheafError } from "../core/errors.js";
import { redactUrl } from "../core/security/credentials.js";
import type { JobId } from "../core/ids.js";
import { parseSize } from "../core/splits.js";
import type { JobSettings } from "../runner/job-settings.js";
import { JOB_DEFAULTS as CORE_DEFAULTS, SERVICE_DEFAULTS } from "../core/defaults.js";
import { showDuration } from "../core/show.js";
import { sheafVersion } from "../core/version.js";
import type { JobOptions } from "../runner/options.js";
import { printableReport } from "../runner/printable.js";
import { plural } from "../runner/format.js";

// Commands load what they need when they run: `sheaf run` never loads BullMQ or ioredis, the
// cluster commands never load the thread pool (a second saved per process start). Nor does parsing
// load the runner (the options schema, the formats): `sheaf run` starts its threads first.
const cluster = () => import("./cluster-commands.js");

/** runner/job-settings.ts's defaults, without loading it. */
const JOB_DEFAULTS = { ...CORE_DEFAULTS, threads: availableParallelism() };

function positiveInt(name: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

function nonNegativeInt(name: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`${name} must be a port number (0 for any free one)`);
    return n;
  };
}

function size(text: string): number {
  try {
    return parseSize(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function param(text: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = text.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError(`expected k=v, got ${JSON.stringify(text)}`);
  return { ...previous, [text.slice(0, eq)]: text.slice(eq + 1) };
}

function collect(text: string, previous: string[] = []): string[] {
  return [...previous, text];
}

/** An on/off flag; help says "off" as the README's flags table does, not commander's "false". */
function flag(flags: string, description: string): Option {
  return new Option(flags, description).default(false, "off");
}

/**
 * Help names the environment variable a default comes from, not the value it had when help was
 * printed: on a machine with SHEAF_WORKDIR set, "(default: /mnt/shared/sheaf)" would hide where it came from.
 */
const WORKDIR_DEFAULT = "$SHEAF_WORKDIR or ./.sheaf";
const PREFIX_DEFAULT = "$SHEAF_PREFIX or sheaf";

/** The environment a cluster command reads, after its options in --help. */
const CLUSTER_ENV = `
Environment:
  SHEAF_REDIS_URL        default of --redis (SHEAF_REDIS_URL_FILE: of --redis-file)
  SHEAF_PREFIX           default of --prefix
  SHEAF_KEYS             a folder of this machine's keys (see sheaf keys), which
                         sign and check job records and task messages
  SHEAF_SECRET           instead of SHEAF_KEYS: one shared secret, 16 characters
                         or more, the same on every machine, that signs everything
  SHEAF_ALLOW_ROOTS      default of --allow-root, ':'-separated`;

/** The options `run` and `submit` share: what to run on, where to write, how to cut it; and the pipelines' own. */
function jobOptions(cmd: Command): Command {
  return taskOptions(cmd.argument("<job>", "the job module (.ts or .js) whose default export is defineJob(...)"))
    .addOption(flag("--overwrite", "replace the output of an earlier finished job, atomically"))
    .addOption(flag("--wait-for-output", "if another job is writing the output, wait for it to end instead of refusing"))
    .option("--at <time>", "pipelines: the logical time, ISO 8601 (default: now, UTC); {date} and {time} in paths use it")
    .addOption(flag("--force", "pipelines: rerun every stage, even those whose output is committed with the same fingerprint"))
    .option("--only <stage>", "pipelines: rerun this stage alone (the stages it reads must be committed)")
    .option("--from <stage>", "pipelines: rerun this stage and every stage after it (the ones before skip if committed)");
}

/** The options of a job's tasks, for `run`, `submit` and `schedule add` alike. */
function taskOptions(cmd: Command): Command {
  return cmd
    .option("-i, --input <path...>", "input files, folders or globs (repeatable; none for a table source)", collect as never)
    .option("-o, --output <dir>", "output folder (none for a sink such as postgres())")
    .option("-p, --partitions <n>", `number of reduce tasks (default: the job's, else ${JOB_DEFAULTS.partitions}, on both transports)`, positiveInt("--partitions"))
    .addOption(new Option("--split-size <size>", "target split size, bytes or with k/m/g").argParser(size).default(JOB_DEFAULTS.splitSize, "64m"))
    .addOption(new Option("--sort-buffer <size>", "map-side sort buffer per task before spilling to disk").argParser(size).default(JOB_DEFAULTS.sortBufferBytes, "128m"))
    .option("--max-attempts <n>", "attempts per task before the job fails", positiveInt("--max-attempts"), JOB_DEFAULTS.maxAttempts)
    .addOption(new Option("--param <k=v>", "a job parameter, in ctx.params (repeatable)").argParser(param).default({}, "none"))
    .addOption(new Option("--workdir <dir>", "job artifacts and intermediate files: a folder (shared by a cluster) or s3://bucket/prefix (hosts then share nothing but Redis and the store)").default(process.env.SHEAF_WORKDIR ?? ".sheaf", WORKDIR_DEFAULT))
    .option("--task-timeout <ms>", `stop and retry an attempt running longer than this (default: the job's, else ${JOB_DEFAULTS.taskTimeoutMs / 60_000} min)`, positiveInt("--task-timeout"))
    .option("--checkpoint-every <size>", `tasks checkpoint their progress after this much data or 10 s (default: ${JOB_DEFAULTS.checkpointBytes >> 20}m, taking at most 5% of a task's time)`, size)
    .option("--no-speculative", "no backup attempts for stragglers (default: the job's, else on)")
    .option(...ALLOW_ROOT);
}

/** How a cluster job shares the workers' slots with other jobs, on submit and schedule add (coordinator/fair-share.ts). */
function shareOptions(cmd: Command): Command {
  return cmd
    .option("--pool <name>", "the pool whose share of the workers' slots the job takes (pools: sheaf coordinator --pool)", "default")
    .option("--priority <n>", "the job's weight within its pool: 2 gets twice the slots of 1 while both run", positiveInt("--priority"), 1);
}

/** `--threads`, on run and worker: the default is this machine's CPU count, which help names as such. */
function threads(): Option {
  return new Option("-t, --threads <n>", "worker threads").argParser(positiveInt("--threads")).default(JOB_DEFAULTS.threads, `the CPU count, ${JOB_DEFAULTS.threads} here`);
}

/** `--allow-root`, on run, submit, coordinator and worker. */
const ALLOW_ROOT = ["--allow-root <dir>", "confine inputs, outputs, workdir and checkpoints to this folder (repeatable; also $SHEAF_ALLOW_ROOTS, ':'-separated)", collect as never] as const;

/** A flag's http(s) URL, checked. */
function httpUrl(flag: string, text: string): string {
  if (!/^https?:\/\/\S+$/.test(text)) throw new SheafError("BAD_ARGUMENT", `${flag} must be an http:// or https:// URL, got ${JSON.stringify(text)}`);
  return text;
}

/** `--log-format`, on coordinator and worker. */
function logFormat(): Option {
  return new Option("--log-format <format>", "log lines as text, or as JSON lines for log shippers (each with time, job, task and attempt)").choices(["text", "json"]).default("text");
}

/** The options of every command that talks to a cluster. */
function clusterOptions(cmd: Command): Command {
  return cmd
    .option("--redis <url>", "Redis URL, redis://[user:password@]host:port[/db] or rediss:// for TLS (default: $SHEAF_REDIS_URL); a password here shows in ps: prefer --redis-file")
    .option("--redis-file <path>", "a file holding the Redis URL (default: $SHEAF_REDIS_URL_FILE)")
    .addOption(new Option("--prefix <name>", "namespace of Sheaf's keys, so clusters can share a Redis").default(process.env.SHEAF_PREFIX ?? "sheaf", PREFIX_DEFAULT))
    .addHelpText("after", CLUSTER_ENV);
}

/** Runs `fn` with a Redis connection for a one-shot command, closing it after. */
async function withRedis<T>(o: { redis?: string; redisFile?: string; prefix: string }, fn: (redis: Redis, keys: Keys) => Promise<T>): Promise<T> {
  // Reached within 3 s, or one line says why; once connected, a lost link is retried for about 20 s:
  // long enough to ride out a restart while following a job.
  const { connectRedis, redisUrlFrom, untilConnected, Keys } = await cluster();
  const url = redisUrlFrom(o.redis, o.redisFile);
  // disconnectTimeout: ioredis waits that long for a socket already closed (a refused connection) to close.
  const redis = connectRedis(url, "cli", undefined, { retryStrategy: (n) => (n > 25 ? null : Math.min(200 * n, 1000)), disconnectTimeout: 200 });
  try {
    await untilConnected(redis, url, 3_000);
    return await fn(redis, new Keys(o.prefix));
  } finally {
    redis.disconnect();
  }
}

/** Runs a long-lived process (coordinator, worker) until SIGINT or SIGTERM, then stops it cleanly. */
async function serve(service: { start(): Promise<void>; stop(): Promise<void> }): Promise<void> {
  try {
    await service.start();
  } catch (err) {
    await service.stop().catch(() => {});
    throw err;
  }
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await service.stop();
}

/**
 * A command's flags as the runner API's options, checked by the one schema `run` and `submit` use
 * (runner/options.ts): the CLI is a parser over that API.
 */
async function jobSettings(o: Record<string, any>, command: string): Promise<JobSettings> {
  const options: JobOptions = {
    input: ((o.input ?? []) as string[]).flat(),
    output: o.output,
    workdir: o.workdir,
    splitSize: o.splitSize,
    partitions: o.partitions,
    params: o.param,
    sortBuffer: o.sortBuffer,
    overwrite: o.overwrite,
    waitForOutput: o.waitForOutput,
    pool: o.pool,
    priority: o.priority,
    maxAttempts: o.maxAttempts,
    taskTimeout: o.taskTimeout,
    checkpointEvery: o.checkpointEvery,
    // commander sets `speculative` to true unless --no-speculative: only the flag overrides the job.
    speculative: o.speculative === false ? false : undefined,
    allowRoots: o.allowRoot ?? [],
    notify: o.notify,
    notifySuccess: o.notifySuccess || undefined,
  };
  const { jobSettingsOf } = await import("../runner/options.js");
  return jobSettingsOf(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)), `sheaf ${command}`);
}

export function buildProgram(): Command {
  const program = new Command("sheaf")
    .description("Sheaf: MapReduce jobs in TypeScript, on this machine's threads or on a Redis cluster")
    .version(sheafVersion(), "-V, --version", "print the version of sheaf")
    .addOption(flag("--verbose", "print full stack traces of errors"))
    // Each command's help lists --verbose and --version too: they are taken after the command as well.
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError("(sheaf --help, or sheaf <command> --help, for usage)")
    .exitOverride(); // inherited by the subcommands: errors come back to main() instead of exiting

  jobOptions(program.command("run").description("run a job in this process, on a thread pool (no Redis needed)"))
    .addOption(threads())
    .addOption(flag("-q, --quiet", "no progress or summary"))
    .action(async (jobFile: string, o) => {
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      // The threads start now, and boot while this thread loads the runner's modules (about 100 ms).
      const { ThreadPool } = await import("../worker/pool.js");
      const { threadsToStart } = await import("./threads-to-start.js");
      let pool: InstanceType<typeof ThreadPool> | undefined = new ThreadPool({ threads: o.threads, startThreads: threadsToStart(o.threads, o.input) });
      try {
        const { runJob } = await import("../runner/run.js");
        const settings = { ...(await jobSettings(o, "run")), threads: o.threads, quiet: o.quiet, at: o.at, force: o.force, only: o.only, from: o.from };
        const taken = pool;
        pool = undefined; // runJob closes it
        await runJob(jobFile, settings, controller.signal, taken);
      } finally {
        await pool?.close();
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });

  shareOptions(clusterOptions(jobOptions(program.command("submit").description("queue a job on a cluster; prints its id"))))
    .addOption(flag("--wait", "follow the job to its end; exit non-zero unless it succeeds"))
    .option("--notify <url>", "POST a JSON event to this URL when the job (or pipeline run) fails (README: Alerts)")
    .addOption(flag("--notify-success", "pipelines: also POST run.succeeded to --notify"))
    .addOption(flag("-q, --quiet", "with --wait: no progress or summary"))
    .action(async (jobFile: string, o) => {
      const { submit, isRunId, waitForRun, waitForJob, jobEnded, runEnded } = await cluster();
      await withRedis(o, async (redis, keys) => {
        const id = await submit(redis, keys, jobFile, { ...(await jobSettings(o, "submit")), at: o.at, force: o.force, only: o.only, from: o.from });
        process.stdout.write(id + "\n");
        if (!o.wait) return;
        if (isRunId(id)) {
          const run = await waitForRun(redis, keys, id, o.quiet);
          if (run.state !== "succeeded") throw runEnded(run);
          return;
        }
        const record = await waitForJob(redis, keys, id as JobId, o.quiet);
        if (record.state !== "succeeded") throw jobEnded(record);
      });
    });

  clusterOptions(program.command("coordinator").description("plan jobs and schedule their tasks (one leader at a time; others stand by)"))
    .option("--lease <ms>", "leader lease length", positiveInt("--lease"), SERVICE_DEFAULTS.leaseMs)
    .option("--plan-timeout <ms>", "fail a job whose planning (its module's top-level code included) takes longer", positiveInt("--plan-timeout"), SERVICE_DEFAULTS.planTimeoutMs)
    .option("--keep-jobs <n>", "finished jobs kept in Redis (and finished pipeline runs, counted apart); older ones are deleted", positiveInt("--keep-jobs"), SERVICE_DEFAULTS.keepJobs)
    .option("--keep-for <duration>", "finished jobs and runs are deleted this long after they finished: 30m, 12h, 7d", showDuration(SERVICE_DEFAULTS.keepForMs))
    .option("--artifact-grace <duration>", "an artifact no unfinished job, run or schedule names is deleted once older than this", showDuration(SERVICE_DEFAULTS.artifactGraceMs))
    .option("--pool <name:settings...>", "a pool of the workers' slots: name:weight=2,min=2,max=8 (repeatable; jobs choose one with submit --pool; unnamed ones: weight 1)", collect as never)
    .option("--pools-file <path>", "pools from a file: one per line as --pool takes it, # comments (--pool flags go over it)")
    .addOption(new Option("--scheduling <policy>", "fair: running jobs share the slots by pool and weight; fifo: each job's tasks queued at once, in submission order").choices(["fair", "fifo"]).default("fair"))
    .option(...ALLOW_ROOT)
    .addOption(logFormat())
    .option("--notify <url>", "POST every job's and run's failure (and late scheduled runs) to this URL too, as JSON (repeatable)", collect as never)
    .addOption(flag("--notify-success", "also POST run.succeeded for every pipeline run to the --notify URLs"))
    .option("--public-url <url>", "the dashboard's address as people reach it, for the links in notifications")
    .option("--http <host:port>", "serve the dashboard, its JSON API and /metrics here (loopback unless SHEAF_UI_TOKEN is set; actions always need the token)")
    .action(async (o) => {
      const { Coordinator, DashboardServer, redisUrlFrom, parseEvery, AllowedRoots, poolsFrom } = await cluster();
      const duration = (flag: string, text: string) => {
        try {
          return parseEvery(text);
        } catch (err) {
          throw new SheafError("BAD_ARGUMENT", `${flag}: ${(err as Error).message}`);
        }
      };
      const retention = { keepJobs: o.keepJobs, keepForMs: duration("--keep-for", o.keepFor), artifactGraceMs: duration("--artifact-grace", o.artifactGrace) };
      const redisUrl = redisUrlFrom(o.redis, o.redisFile);
      const coordinator = new Coordinator({
        redisUrl, prefix: o.prefix, leaseMs: o.lease, retention,
        planLimits: { timeoutMs: o.planTimeout }, roots: AllowedRoots.from(o.allowRoot ?? []), logFormat: o.logFormat,
        pools: poolsFrom(o.poolsFile, ((o.pool ?? []) as string[]).flat()), scheduling: o.scheduling,
        notify: { targets: ((o.notify ?? []) as string[]).flat().map((u) => httpUrl("--notify", u)), success: o.notifySuccess, publicUrl: o.publicUrl && httpUrl("--public-url", o.publicUrl) },
      });
      // Checked (address, token) before the coordinator starts; served by every coordinator, standby too.
      const dashboard = o.http === undefined ? undefined : new DashboardServer({ redisUrl, prefix: o.prefix, listen: o.http });
      await serve({
        async start() {
          await dashboard?.start();
          await coordinator.start();
        },
        async stop() {
          await Promise.all([coordinator.stop(), dashboard?.stop()]);
        },
      });
    });

  clusterOptions(program.command("worker").description("run tasks from the queue on a thread pool"))
    .addOption(threads())
    .option("--lock <ms>", `task lock; a dead worker's tasks are retried within about 1.5x this long (default: ${SERVICE_DEFAULTS.lockMs})`, positiveInt("--lock"))
    .option(...ALLOW_ROOT)
    .option("--local-dir <dir>", "keep map outputs on this machine's disk and serve them to reducers over HTTP, instead of in the shared workdir (default: $SHEAF_LOCAL_DIR; for a job whose workdir is s3://, $TMPDIR/sheaf-local; needs SHEAF_SECRET)")
    .option("--shuffle-port <n>", "port the map outputs are served on (default: 0, any free port)", nonNegativeInt("--shuffle-port"))
    .option("--advertise <host>", "host name reducers reach this worker by (default: this host's name)")
    .addOption(logFormat())
    .action(async (o) => {
      const { QueueWorker, redisUrlFrom, AllowedRoots } = await cluster();
      const localDir: string | undefined = o.localDir ?? (process.env.SHEAF_LOCAL_DIR || undefined);
      const shuffle = { localDir: localDir && resolve(localDir), port: o.shufflePort, advertise: o.advertise ?? hostname() };
      await serve(new QueueWorker({ redisUrl: redisUrlFrom(o.redis, o.redisFile), prefix: o.prefix, threads: o.threads, lockMs: o.lock, roots: AllowedRoots.from(o.allowRoot ?? []), shuffle, logFormat: o.logFormat }));
    });

  program
    .command("acl")
    .description("print the Redis ACL SETUSER command for a worker user (see docs: Redis ACL for workers)")
    .addOption(new Option("--prefix <name>", "the cluster's key prefix").default(process.env.SHEAF_PREFIX ?? "sheaf", PREFIX_DEFAULT))
    .option("--user <name>", "the Redis user", "sheafworker")
    .option("--password <password>", "the user's password (default: a placeholder to replace)", "CHANGE-ME")
    .action(async (o) => {
      const { workerAclCommand } = await import("../core/cluster/acl.js");
      process.stdout.write(workerAclCommand(o.user, o.prefix, o.password) + "\n");
    });

  program
    .command("keys")
    .description("make the cluster's Ed25519 key pairs (submit, coordinator) in a folder, for SHEAF_KEYS")
    .argument("<folder>")
    .action(async (folder: string) => {
      const { generateKeys, KEYS_GUIDE } = await import("../core/security/keygen.js");
      const files = generateKeys(folder);
      process.stdout.write(`wrote ${files.join(", ")}\n${KEYS_GUIDE}\n`);
    });

  clusterOptions(program.command("status").description("a table of recent jobs, or one job in detail").argument("[jobId]"))
    .addOption(flag("--watch", "refresh every second"))
    .option("-n, --limit <n>", "jobs in the table", positiveInt("--limit"), 20)
    .action(async (jobId: string | undefined, o) => {
      const { isRunId, readRun, renderRun, RUN_FINISHED, readJob, renderJob, FINISHED, renderJobTable, readOverview, readRejections, renderRejections, readAttempts, listWorkers } = await cluster();
      await withRedis(o, async (redis, keys) => {
        for (;;) {
          let text: string;
          let finished = false;
          if (jobId && isRunId(jobId)) {
            const run = await readRun(redis, keys, jobId);
            if (!run) throw new SheafError("NO_SUCH_JOB", `no pipeline run ${jobId} under prefix ${keys.prefix}`);
            text = renderRun(run);
            finished = RUN_FINISHED.has(run.state);
          } else if (jobId) {
            const record = await readJob(redis, keys, jobId as JobId);
            if (!record) throw new SheafError("NO_SUCH_JOB", `no job ${jobId} under prefix ${keys.prefix}`);
            const [timeline, workers] = await Promise.all([readAttempts(redis, keys, jobId as JobId), listWorkers(redis, keys)]);
            text = renderJob(record, Date.now(), { timeline, liveWorkers: workers.length });
            finished = FINISHED.has(record.state);
          } else {
            const { jobs, runs } = await readOverview(redis, keys, o.limit);
            text = renderJobTable(jobs, Date.now(), runs) + renderRejections(await readRejections(redis, keys));
          }
          if (o.watch && process.stdout.isTTY) process.stdout.write("\x1b[H\x1b[2J");
          process.stdout.write(text + "\n");
          if (!o.watch || finished) return;
          if (!process.stdout.isTTY) process.stdout.write("\n");
          await new Promise((r) => setTimeout(r, 1000));
        }
      });
    });

  clusterOptions(program.command("workers").description("the live workers: host, pid, threads, running tasks, last heartbeat, memory, version")).action(async (o) => {
    const { listWorkers, renderWorkers } = await cluster();
    await withRedis(o, async (redis, keys) => void process.stdout.write(renderWorkers(await listWorkers(redis, keys)) + "\n"));
  });

  clusterOptions(
    program
      .command("logs")
      .description("what a job's own code printed (console.*), per attempt, the tail of each kept")
      .argument("<jobId>")
      .option("--task <task>", "only this task (map-00003, reduce-00001)")
      .option("--attempt <n>", "only this attempt", positiveInt("--attempt")),
  ).action(async (jobId: string, o) => {
    const { readJob, readLogs, renderLogs } = await cluster();
    await withRedis(o, async (redis, keys) => {
      const [record, logs] = await Promise.all([readJob(redis, keys, jobId as JobId), readLogs(redis, keys, jobId as JobId)]);
      if (!record && logs.length === 0) throw new SheafError("NO_SUCH_JOB", `no job ${jobId} under prefix ${keys.prefix}`);
      process.stdout.write(renderLogs(jobId, logs, { task: o.task, attempt: o.attempt }) + "\n");
    });
  });

  clusterOptions(program.command("cancel").description("cancel a queued or running job").argument("<jobId>")).action(async (jobId: string, o) => {
    const { isRunId, cancelRun, RUN_FINISHED, waitForRun, cancelJob, FINISHED, waitForJob } = await cluster();
    await withRedis(o, async (redis, keys) => {
      if (isRunId(jobId)) {
        const state = await cancelRun(redis, keys, jobId);
        if (!state) throw new SheafError("NO_SUCH_JOB", `no pipeline run ${jobId} under prefix ${keys.prefix}`);
        if (RUN_FINISHED.has(state)) throw new SheafError("JOB_FINISHED", `pipeline run ${jobId} already ${state}`);
        const run = await waitForRun(redis, keys, jobId, true);
        process.stdout.write(printableReport(`${jobId} ${run.state}`) + "\n");
        return;
      }
      const state = await cancelJob(redis, keys, jobId as JobId);
      if (!state) throw new SheafError("NO_SUCH_JOB", `no job ${jobId} under prefix ${keys.prefix}`);
      if (FINISHED.has(state)) throw new SheafError("JOB_FINISHED", `job ${jobId} already ${state}`);
      const record = await waitForJob(redis, keys, jobId as JobId, true);
      process.stdout.write(printableReport(`${jobId} ${record.state}`) + "\n");
    });
  });

  const schedule = program.command("schedule").description("run a job or pipeline on a cron expression or an interval (fired by the coordinator's leader)");
  shareOptions(clusterOptions(taskOptions(
    schedule
      .command("add")
      .description("add a schedule")
      .argument("<name>", "the schedule's name")
      .argument("<module>", "the job or pipeline module")
      .option("--cron <expr>", "cron: 5 fields, or 6 with seconds first")
      .option("--every <duration>", "an interval: 10s, 5m, 1h, 1d (aligned to multiples of it since the epoch)")
      .option("--tz <zone>", "the zone of --cron and of {date}/{time} (default UTC)")
      .option("--overlap <policy>", "a run that comes due while the previous one runs: skip (recorded) or queue", "skip")
      .option("--notify <url>", "POST a JSON event to this URL when a run fails (README: Alerts)")
      .addOption(flag("--notify-success", "also POST run.succeeded to --notify"))
      .option("--sla <duration>", "with --notify: POST schedule.late when a run has not finished this long after it was due: 30m, 2h"),
  ))).action(async (name: string, module: string, o) => {
    const { addSchedule, parseEvery } = await cluster();
    await withRedis(o, async (redis, keys) => {
      const settings = await jobSettings({ ...o, overwrite: true }, "schedule add");
      let slaMs: number | undefined;
      try {
        slaMs = o.sla === undefined ? undefined : parseEvery(o.sla);
      } catch (err) {
        throw new SheafError("BAD_ARGUMENT", `--sla: ${(err as Error).message}`);
      }
      const spec = await addSchedule(redis, keys, name, module, { cron: o.cron, every: o.every, tz: o.tz, overlap: o.overlap, settings, slaMs });
      process.stdout.write(`schedule ${spec.name} added\n`);
    });
  });
  clusterOptions(
    schedule
      .command("update")
      .description("re-bundle a schedule's module (or another) and change the flags given; history, fired due times and state are kept")
      .argument("<name>", "the schedule's name")
      .argument("[module]", "a job or pipeline module to run from now on (default: the one it was added with, bundled again)")
      .option("--cron <expr>", "cron: 5 fields, or 6 with seconds first")
      .option("--every <duration>", "an interval: 10s, 5m, 1h, 1d")
      .option("--tz <zone>", "the zone of --cron and of {date}/{time}")
      .option("--overlap <policy>", "skip or queue")
      .option("-i, --input <path...>", "a job's inputs (templates allowed)", collect as never)
      .option("-o, --output <dir>", "a job's output folder (templates allowed)")
      .addOption(new Option("--param <k=v>", "a parameter for every run (repeatable; replaces the schedule's)").argParser(param))
      .option("--workdir <dir>", "artifacts and intermediate files: a shared folder or s3://bucket/prefix")
      .addOption(new Option("--split-size <size>", "target split size").argParser(size))
      .option("--max-attempts <n>", "attempts per task", positiveInt("--max-attempts")),
  ).action(async (name: string, module: string | undefined, o) => {
    const { updateSchedule } = await cluster();
    await withRedis(o, async (redis, keys) => {
      const settings = {
        inputs: o.input ? (o.input as string[]).flat() : undefined, output: o.output, params: o.param, workdir: o.workdir, splitSize: o.splitSize, maxAttempts: o.maxAttempts,
      };
      const spec = await updateSchedule(redis, keys, name, { module, cron: o.cron, every: o.every, tz: o.tz, overlap: o.overlap, settings });
      process.stdout.write(`schedule ${spec.name} updated: code ${spec.artifactSha.slice(0, 12)}\n`);
    });
  });
  clusterOptions(schedule.command("list").description("schedules: expression, zone, next due time, state, last runs")).action(async (o) => {
    const { renderSchedules, listSchedules } = await cluster();
    await withRedis(o, async (redis, keys) => void process.stdout.write(printableReport(renderSchedules(await listSchedules(redis, keys))) + "\n"));
  });
  for (const [verb, fn, what] of [["remove", "removeSchedule", "removed"], ["pause", "pauseSchedule", "paused"], ["resume", "resumeSchedule", "resumed"]] as const) {
    clusterOptions(schedule.command(verb).description(`${verb} a schedule (a run in flight finishes)`).argument("<name>")).action(async (name: string, o) => {
      const change = (await cluster())[fn];
      await withRedis(o, async (redis, keys) => {
        await change(redis, keys, name);
        process.stdout.write(`schedule ${name} ${what}\n`);
      });
    });
  }
  clusterOptions(
    schedule
      .command("backfill")
      .description("run every due time in [from, to] not run yet, oldest first, one at a time")
      .argument("<name>")
      .requiredOption("--from <time>", "ISO time")
      .requiredOption("--to <time>", "ISO time")
      .option("--max-runs <n>", "refuse to queue more due times than this without --yes", positiveInt("--max-runs"), 100)
      .addOption(flag("--yes", "queue every due time of the window, however many"))
      .addOption(flag("--rerun-failed", "also run again the due times whose last run failed (each under a new run id)")),
  ).action(async (name: string, o) => {
    const { backfill } = await cluster();
    await withRedis(o, async (redis, keys) => {
      const due = await backfill(redis, keys, name, o.from, o.to, { maxRuns: o.maxRuns, yes: o.yes, rerunFailed: o.rerunFailed });
      process.stdout.write(`schedule ${name}: ${plural(due.length, "due time")} queued${due.length ? ` (${new Date(due[0]!).toISOString()} … ${new Date(due.at(-1)!).toISOString()})` : ""}\n`);
    });
  });

  return program;
}

/**
 * Any user can read a process's command line (`ps`, /proc/<pid>/cmdline): one holding a password
 * (`--redis redis://user:password@…`, `acl --password`) is rewritten with it redacted, which on
 * Linux overwrites the command line itself. It was visible from exec to here: --redis-file or
 * SHEAF_REDIS_URL(_FILE) keep it out of the command line altogether.
 */
function hideCredentials(argv: readonly string[]): void {
  const shown = argv.map((arg, i) => {
    if (argv[i - 1] === "--redis") return redactUrl(arg);
    if (arg.startsWith("--redis=")) return `--redis=${redactUrl(arg.slice(8))}`;
    if (argv[i - 1] === "--password") return "***";
    if (arg.startsWith("--password=")) return "--password=***";
    return arg;
  });
  if (shown.some((arg, i) => arg !== argv[i])) process.title = shown.join(" ");
}

export async function main(argv: string[]): Promise<number> {
  if (argv === process.argv) hideCredentials(argv);
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    const verbose = program.opts().verbose || argv.includes("--verbose");
    const e = err as Error & { code?: string; exitCode?: number; failure?: { stack?: string } };
    if (e.code?.startsWith("commander.")) return e.exitCode ?? 2; // commander already printed the message
    // An INTERNAL SheafError is a failed assertion: reported as unexpected, like any other bug.
    const known = err instanceof SheafError && err.code !== "INTERNAL";
    // Messages may quote a job's error or state from Redis: printed without terminal controls.
    process.stderr.write(printableReport(`sheaf: ${known ? e.message : `unexpected error: ${e?.message ?? String(err)}`}`) + "\n");
    // A job's failure: its stack, the frames in the job's code named by the user's file and line (core/task-failure.ts).
    if (verbose) process.stderr.write(printableReport(`${e.failure?.stack ?? e.stack ?? ""}`) + "\n");
    else if (!known) process.stderr.write("(run with --verbose for the stack trace)\n");
    return 1;
  }
}
