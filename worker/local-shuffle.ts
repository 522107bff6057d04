/**
 * A worker's side of the network shuffle, as its main thread runs it: with `--local-dir`, the
 * shuffle server over the local dir, that dir named to each map task, and each ended job's folder
 * removed; for every worker holding SHEAF_SECRET, the reduce inputs other workers serve fetched
 * before a reduce task takes a thread. Without `--local-dir` and without served inputs, nothing here
 * runs: map outputs stay in the shared workdir, read in place.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SheafError } from "../core/errors.js";
import { isObjectUrl } from "../core/store/location.js";
import { isMapOutputUrl, shuffleKey } from "../core/shuffle/remote.js";
import { toFailure } from "../core/task-failure.js";
import type { ReduceTask, Task, TaskOutcome } from "../core/tasks.js";
import { removeJobDir, sweepLocalDir, type LocalShuffle, type LocalTask } from "./local-dir.js";
import { mapOutputRefs } from "./reduce-inputs.js";
import { fetchSegments } from "./shuffle-fetch.js";
import { ShuffleServer } from "./shuffle-server.js";

export interface ShuffleOptions {
  /** Map outputs and spills go here instead of the workdir. */
  localDir?: string;
  /** @defaultValue 0, any free port */
  port?: number;
  /** The host name reducers reach this worker by. */
  advertise: string;
}

export class LocalShuffleService {
  private starting: Promise<void> | undefined;

  constructor(
    readonly key: Buffer,
    private served?: LocalShuffle,
    private server?: ShuffleServer,
    private readonly log: (m: string) => void = () => {},
    /** How to serve when first needed, for a worker started without --local-dir. */
    private readonly lazily?: { options: ShuffleOptions; log: (m: string) => void },
  ) {}

  /** Where this worker keeps and serves map outputs, once it does. */
  get local(): LocalShuffle | undefined {
    return this.served;
  }

  /**
   * A map task as its thread gets it: told where to keep its output, and how it is served. A job
   * whose workdir is an object store shares no folder between hosts: its map outputs are always
   * served, from the OS temp folder when this worker was given no --local-dir.
   */
  async forThread(task: Task): Promise<Task> {
    if (task.kind !== "map") return task;
    if (!this.local && this.lazily && isObjectUrl(task.job.workdir)) await (this.starting ??= this.serveLocally(this.lazily));
    return this.local ? ({ ...task, local: this.local } as LocalTask<Task>) : task;
  }

  private async serveLocally({ options, log }: { options: ShuffleOptions; log: (m: string) => void }): Promise<void> {
    const started = await serve({ ...options, localDir: options.localDir ?? join(tmpdir(), "sheaf-local") }, this.key, log);
    [this.served, this.server] = [started.local, started.server];
  }

  /** Removes the job's local folder, and logs what was served for it (bench/hosts.mjs reads the line). */
  jobEnded(jobId: string): void {
    if (this.local) removeJobDir(this.local.dir, jobId);
    const s = this.server?.takeServed(jobId);
    if (s) this.log(`job ${jobId}: served ${s.bytes} bytes of map outputs in ${s.requests} requests, ${s.remoteBytes} bytes of them to other hosts`);
  }

  async close(): Promise<void> {
    await this.starting?.catch(() => {});
    await this.server?.close();
  }
}

/**
 * The service a worker starts with: undefined with no SHEAF_SECRET and no local dir (today's shared
 * workdir); a fetcher only with the secret alone; a server too with a local dir, which without the
 * secret is refused (an unauthenticated server would hand any job's intermediate data to anyone).
 */
export async function startShuffle(o: ShuffleOptions | undefined, log: (m: string) => void, env = process.env): Promise<LocalShuffleService | undefined> {
  const secret = env.SHEAF_SECRET;
  if (o?.localDir === undefined) return secret ? new LocalShuffleService(shuffleKey(secret), undefined, undefined, log, o && { options: o, log }) : undefined;
  if (!secret) throw new SheafError("BAD_OPTION", "--local-dir needs SHEAF_SECRET: map outputs are served only to requests carrying a token derived from it");
  const key = shuffleKey(secret);
  const { local, server } = await serve({ ...o, localDir: o.localDir }, key, log);
  return new LocalShuffleService(key, local, server, log);
}

async function serve(o: ShuffleOptions & { localDir: string }, key: Buffer, log: (m: string) => void): Promise<{ local: LocalShuffle; server: ShuffleServer }> {
  const removed = sweepLocalDir(o.localDir);
  if (removed) log(`removed ${removed} job folder(s) older than a day from ${o.localDir}`);
  const server = new ShuffleServer(o.localDir, key);
  const port = await server.listen(o.port ?? 0);
  const host = o.advertise.includes(":") ? `[${o.advertise}]` : o.advertise;
  const local = { dir: o.localDir, base: `http://${host}:${port}` };
  log(`serving map outputs from ${o.localDir} at ${local.base}`);
  return { local, server };
}

/** What a reduce task runs with: its fetched segments (or the failure that fetching them was), and their cleanup. */
export interface Fetched {
  task?: Task;
  failure?: TaskOutcome;
  cleanup: () => void;
}

/** Fetches a reduce task's served inputs into its own folder; none served, nothing done. */
export async function fetchReduceInputs(task: ReduceTask, shuffle: LocalShuffleService | undefined, signal: AbortSignal): Promise<Fetched | undefined> {
  let refs;
  try {
    refs = mapOutputRefs(task);
  } catch {
    return undefined; // the task itself reports it, on its thread, as it always has
  }
  if (!refs.some((r) => r.url !== undefined)) return undefined;
  const dir = shuffle?.local
    ? join(shuffle.local.dir, task.job.jobId, task.taskId, `fetch-${randomBytes(4).toString("hex")}`)
    : join(tmpdir(), `sheaf-fetch-${task.job.jobId}-${task.taskId}-${randomBytes(4).toString("hex")}`);
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    if (!shuffle) throw new SheafError("BAD_OPTION", "map outputs are served over the network, and this worker has no SHEAF_SECRET to fetch them with", false);
    // The list lies in the shared workdir: a URL in it must still name this job's map task (see checkResult).
    const stray = refs.find((r) => r.url !== undefined && !isMapOutputUrl(r.url, task.job.jobId, r.producer));
    if (stray) throw new SheafError("PATH_NOT_ALLOWED", `list of map outputs ${task.inputs.path}: ${stray.url} is not ${stray.producer}'s of job ${task.job.jobId}`, false);
    const fetched = await fetchSegments(refs, { key: shuffle.key, dir, partition: task.index, partitions: task.job.partitions, signal });
    return { task: { ...task, fetched } as LocalTask<ReduceTask>, cleanup };
  } catch (err) {
    cleanup();
    if (signal.aborted) throw err;
    return { failure: { ok: false, failure: toFailure(err, task) }, cleanup };
  }
}
