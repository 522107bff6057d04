/**
 * An output in an object store, which has no rename: a sink (core/formats/format.ts OutputSink), as
 * Hadoop's manifest committer does it. An attempt writes its part to the worker's disk, as for a
 * folder, and on closing it uploads it (multipart, one part in memory at a time) to a staging key
 * under `<prefix>/_temporary/<job>/`, where no reader looks. The job commit copies the committed
 * attempts' parts to their final keys, named with the job's id (`part-00000-<job>.parquet`), so an
 * overwrite never touches the previous output's parts; then writes `_SUCCESS` last: a manifest
 * listing the parts. Writing `_SUCCESS` is the one atomic step: Sheaf's readers of the prefix (a later
 * pipeline stage) take the parts it lists and nothing else, so they see the previous output whole
 * until it lands and the new one whole after. Then the previous output's parts and the staging keys
 * go. An aborted job removes its staging keys; the output stays as it was.
 *
 * Why not S3A's magic committer (multipart uploads completed only at the job commit): it needs the
 * uploads' ids kept until the commit, and an upload never completed (a killed job) can only be
 * removed by AbortMultipartUpload or a bucket lifecycle rule. Copies cost a second write of the
 * bytes, server-side; in exchange a dead job leaves only ordinary objects under `_temporary/`, which
 * its abort (or the next commit of the prefix) deletes. Buckets should still abort incomplete
 * multipart uploads after a day (a lifecycle rule): an upload cut short by a killed worker is one.
 */
import { rm } from "node:fs/promises";
import { basename } from "node:path";
import { SheafError } from "../errors.js";
import type { OutputSink, RecordWriter, WriteProgress, WriteTarget } from "../formats/format.js";
import { holderOf, writerBusy, type Liveness, type OutputLock, type WriterLock } from "../output-writer-lock.js";
import { ifValid, Schemas } from "../security/messages.js";
import { folderOf, readManifest, temporaryOf, type Manifest } from "./manifest.js";
import { sleep } from "../sleep.js";
import type { PartFile } from "../tasks.js";
import { copyObject, deleteObjects, getObjectText, listObjects, putObject, uploadFile } from "./s3.js";

const stagingOf = (url: string, jobId: string) => `${temporaryOf(url)}${jobId}/`;
/** What Sheaf writes under an output prefix; anything else there is someone else's. */
const OURS = /^(part-\d+(-[^/]+)?(\.\w+)?|_SUCCESS|_temporary\/.*)$/;

/** A part's final name: the job's id before the extension, so two jobs' parts never share a key. */
const finalName = (name: string, jobId: string) => name.replace(/^(part-\d+)/, `$1-${jobId}`);

/** The writer of one part: the format's own, to a local file, uploaded to the job's staging keys on close. */
export class ObjectPartWriter implements RecordWriter {
  readonly staged: string;

  constructor(private readonly inner: RecordWriter, private readonly target: WriteTarget, output: string) {
    this.staged = `${stagingOf(output, target.job.jobId)}${target.taskId}-${target.attempt}/${basename(target.path)}`;
  }

  write(key: Parameters<RecordWriter["write"]>[0], value: unknown): void | Promise<void> {
    return this.inner.write(key, value);
  }

  get size(): number {
    return this.inner.size;
  }

  /** A part in a store is not continued from a prefix: a retry writes it again. */
  sync(): WriteProgress | undefined {
    return undefined;
  }

  async close(): Promise<WriteProgress> {
    const progress = await this.inner.close();
    await uploadFile(this.target.path, this.staged);
    await rm(this.target.path, { force: true });
    return progress;
  }

  abandon(): Promise<void> {
    return this.inner.abandon();
  }
}

export function objectSink(output: string): OutputSink {
  const folder = folderOf(output);
  const relative = (path: string) => path.slice(folder.length);
  /**
   * Once published: the previous output's parts go, and every staging key (this job's, and any a
   * killed job left: the job publishing holds the writer lock, so no other writes here now).
   */
  const sweep = async () => {
    const now = await readManifest(output);
    const keep = new Set(now?.parts.map((p) => p.name));
    const listed = await listObjects(folder);
    const stale = listed.filter((o) => {
      const name = relative(o.path);
      return (/^part-/.test(name) && !keep.has(name)) || (name.startsWith("_temporary/") && name !== "_temporary/_writer");
    });
    await deleteObjects(stale.map((o) => o.path));
  };
  return {
    async check(overwrite = false) {
      const listed = await listObjects(folder);
      const foreign = listed.map((o) => relative(o.path)).filter((name) => !OURS.test(name));
      if (foreign.length) {
        throw new SheafError("OUTPUT_NOT_EMPTY", `output ${output} holds objects that are not a job's output (${foreign.slice(0, 3).join(", ")}${foreign.length > 3 ? ", …" : ""}): choose an empty or new prefix`);
      }
      if (!overwrite && listed.some((o) => relative(o.path) === "_SUCCESS")) {
        throw new SheafError("OUTPUT_EXISTS", `output ${output} already holds a finished job's output (_SUCCESS): pass --overwrite to replace it`);
      }
    },

    async commit(jobId: string, parts: readonly PartFile[], fingerprint?: string, afterStep = (_step: "parts" | "swapped") => {}) {
      const before = await readManifest(output);
      if (before?.job !== jobId) {
        const named = [...parts].sort((a, b) => (a.name < b.name ? -1 : 1)).map((p) => ({ part: p, name: finalName(p.name, jobId) }));
        // Idempotent: a commit resumed after some copies copies them again.
        for (const { part, name } of named) await copyObject(part.path, `${folder}${name}`);
        afterStep("parts");
        const manifest: Manifest = { sheaf: 1, job: jobId, parts: named.map(({ part, name }) => ({ name, bytes: part.bytes, records: part.records })), ...(fingerprint ? { fingerprint } : {}) };
        await putObject(`${folder}_SUCCESS`, JSON.stringify(manifest, null, 1) + "\n");
        afterStep("swapped");
      }
      await sweep();
    },

    async committedFingerprint() {
      return (await readManifest(output))?.fingerprint;
    },

    async discard(part: PartFile) {
      await deleteObjects([part.path]);
    },

    /** Its staging keys go, and any part it copied to a final key before its manifest landed. */
    async abort(jobId: string) {
      if ((await readManifest(output))?.job === jobId) return sweep(); // published: the output is this job's
      const ownPart = (name: string) => {
        const rest = /^part-\d+-(.*)$/.exec(name)?.[1];
        return rest !== undefined && rest.startsWith(jobId) && /^(\.\w+)?$/.test(rest.slice(jobId.length));
      };
      const mine = (await listObjects(folder)).filter((o) => o.path.startsWith(stagingOf(output, jobId)) || ownPart(relative(o.path)));
      await deleteObjects(mine.map((o) => o.path));
    },

    lock: () => objectLock(output),
  };
}

/**
 * One writer per output prefix: a lock object beside the staging keys. An object store has no
 * create-if-absent that every server honours (s3rver ignores If-None-Match), so a take writes its
 * holder and reads it back after a pause: of two takers racing, the one whose write landed last
 * wins, and the other sees the winner and is refused.
 */
export function objectLock(output: string): OutputLock {
  const key = `${temporaryOf(output)}_writer`;
  const read = async (): Promise<WriterLock | undefined> => {
    try {
      const text = await getObjectText(key);
      return text ? ifValid(Schemas.writerLock, JSON.parse(text)) : undefined;
    } catch {
      return undefined;
    }
  };
  const checkFree = async (alive: Liveness, jobId?: string) => {
    const holder = await read();
    if (holder && holder.jobId !== jobId && (await alive(holder))) throw writerBusy(output, holder, key);
  };
  return {
    checkFree,
    async take(jobId, by, alive) {
      await checkFree(alive, jobId);
      const mine = holderOf(jobId, by);
      await putObject(key, JSON.stringify(mine));
      await sleep(200);
      const holder = await read();
      if (holder && holder.jobId !== jobId) throw writerBusy(output, holder, key);
    },
    async release(jobId) {
      if ((await read())?.jobId === jobId) await deleteObjects([key]);
    },
  };
}
