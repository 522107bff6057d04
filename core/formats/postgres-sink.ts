/**
 * A PostgreSQL table as job output, loaded all or nothing. Each attempt COPYs its rows into its
 * own UNLOGGED staging table, inside a transaction that commits only when the part is closed (an
 * attempt that dies leaves no table behind). The job commit then moves every staged part into the
 * target in ONE transaction that also records the job id in `sheaf_loads`: a second commit of the
 * same job finds it there and changes nothing.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import type { Writable } from "node:stream";
import type pg from "pg";
import copyStreams from "pg-copy-streams";
import type { ColumnType, PostgresFormat, Schema } from "../api/formats.js";
import type { Key } from "../api/types.js";
import { SheafError } from "../errors.js";
import { jobIdTime, scratchOwner } from "../leftovers.js";
import { holderOf, writerBusy, type OutputLock, type WriterLock } from "../output-writer-lock.js";
import { ifValid, Schemas, type StagingOwner } from "../security/messages.js";
import type { PartFile } from "../tasks.js";
import type { OutputSink, RecordWriter, WriteProgress, WriteTarget } from "./format.js";
import { PG_TYPE, VOCABULARY, columnsOf, connect, dbError, quoteIdent, quoteName, schemaOf, withClient, type Column } from "./postgres-connect.js";
import { asRow, dateText, fitRow, inferSchema, type Row } from "./schema.js";

const FLUSH_CHARS = 1 << 16;

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/**
 * The job's fence between staging and ending: writers COMMIT their staging under a shared
 * advisory lock after checking the job has not ended; the job's commit or abort takes it
 * exclusively while it records the end in `sheaf_loads`. So a straggler either commits before the
 * end (and the end drops its table) or sees the end and rolls back: nothing is left behind.
 */
const JOB_LOCK = "hashtextextended($1, 0)";

/** The loads table (`loadsTable`, else `sheaf_loads` beside the target): one row per ended job (loaded or aborted). */
function markerOf(format: PostgresFormat): string {
  if (format.loadsTable) return quoteIdent(format.loadsTable);
  const schema = schemaOf(tableOf(format));
  return quoteIdent(schema ? `${schema}.sheaf_loads` : "sheaf_loads");
}

/**
 * Creates the loads table, or adds the columns an earlier version's lacks. A load records the
 * pipeline stage's fingerprint and which table it filled (its oid and file node: a table dropped
 * and made again has another oid; one truncated, another file node), so a rerun skips the stage
 * only while the rows it loaded can still be there.
 */
const MARKER_DDL = (marker: string) =>
  `CREATE TABLE IF NOT EXISTS ${marker} (job_id text PRIMARY KEY, target text NOT NULL, rows bigint NOT NULL, outcome text NOT NULL DEFAULT 'loaded', loaded_at timestamptz NOT NULL DEFAULT now());
   ALTER TABLE ${marker} ADD COLUMN IF NOT EXISTS outcome text NOT NULL DEFAULT 'loaded';
   ALTER TABLE ${marker} ADD COLUMN IF NOT EXISTS fingerprint text;
   ALTER TABLE ${marker} ADD COLUMN IF NOT EXISTS target_oid oid;
   ALTER TABLE ${marker} ADD COLUMN IF NOT EXISTS target_filenode oid`;

/** The target's oid and file node, as a load records them and a skip check compares them. */
const TARGET_IDENTITY = `SELECT to_regclass($1)::oid AS oid, pg_relation_filenode(to_regclass($1)) AS filenode`;

/** Every staging table of a job starts with this. */
export function stagePrefix(jobId: string): string {
  return `sheaf_stage_${sha256(jobId).slice(0, 12)}_`;
}

/** The attempt's staging table, unquoted, in the target's schema (≤ 58 characters: PostgreSQL cuts names at 63). */
export function stagingTable(format: PostgresFormat, target: WriteTarget): string {
  const task = target.taskId.toLowerCase().replace(/[^a-z0-9]/g, "").slice(0, 24);
  const name = `${stagePrefix(target.job.jobId)}${task}_${sha256(target.attempt).slice(0, 8)}`;
  const schema = schemaOf(tableOf(format));
  return schema ? `${schema}.${name}` : name;
}

function tableOf(format: PostgresFormat): string {
  if (format.table === undefined) throw new SheafError("BAD_OUTPUT", "postgres(): an output needs a table");
  return format.table;
}

/** COPY text format: \N for null; backslash, tab, newline and carriage return escaped. */
function copyField(type: ColumnType, v: unknown): string {
  if (v === null) return "\\N";
  switch (type) {
    case "string": return (v as string).replace(/[\\\t\n\r]/g, (c) => (c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r"));
    case "bool": return v ? "t" : "f";
    case "date": case "timestamp": return dateText(type, v as Date);
    default: return String(v); // numbers (NaN, Infinity as PostgreSQL spells them), bigints
  }
}

export interface PostgresWriter extends RecordWriter {
  /** The staging table (`schema.name` or `name`): the PartFile's `path`. */
  readonly staged: string;
}

export function createPostgresWriter(format: PostgresFormat, target: WriteTarget): PostgresWriter {
  return new StagingWriter(format, target);
}

class StagingWriter implements PostgresWriter {
  readonly staged: string;
  private client: pg.Client | undefined;
  private copy: Writable & { rowCount: number } | undefined;
  private setup: Promise<void> | undefined;
  private schema: Schema = {};
  private names: string[] = [];
  private types: ColumnType[] = [];
  private pending: string[] = [];
  private pendingChars = 0;
  private bytes = 0;
  private records = 0;
  /** The first error: every later call throws it. */
  private failed: unknown;
  /** Whether the staging table's transaction committed (then abandon must drop it). */
  private committed = false;

  private readonly jobId: string;

  private readonly scratch: string;

  constructor(private readonly format: PostgresFormat, target: WriteTarget) {
    this.staged = stagingTable(format, target);
    this.jobId = target.job.jobId;
    this.scratch = target.job.scratch;
  }

  get size(): number { return this.bytes + this.pendingChars; }

  write(key: Key, value: unknown): void | Promise<void> {
    if (this.failed) throw this.failed;
    const row = asRow(key, value);
    if (!this.setup) this.setup = this.start(row, key);
    if (!this.copy) return this.setup.then(() => this.push(key, row));
    return this.push(key, row);
  }

  private push(key: Key, row: Row): void | Promise<void> {
    const values = fitRow(this.schema, this.names, row, key);
    let line = "";
    for (let i = 0; i < values.length; i++) line += (i ? "\t" : "") + copyField(this.types[i]!, values[i]);
    this.pending.push(line + "\n");
    this.pendingChars += line.length + 1;
    this.records++;
    if (this.pendingChars >= FLUSH_CHARS) return this.flush();
  }

  /** Hands the buffered lines to COPY; a promise when the connection needs draining first. */
  private flush(): void | Promise<void> {
    if (this.failed) throw this.failed;
    if (this.pending.length === 0) return;
    const chunk = Buffer.from(this.pending.join(""));
    this.pending = [];
    this.pendingChars = 0;
    this.bytes += chunk.length;
    if (this.copy!.write(chunk)) return;
    return new Promise((resolve, reject) => {
      const done = (err?: unknown): void => {
        this.copy!.off("drain", done).off("error", done);
        if (err) reject(this.failed ?? err); else resolve();
      };
      this.copy!.on("drain", done).on("error", done);
    });
  }

  /** Connects, settles the schema, opens the transaction that creates the staging table and starts COPY. */
  private async start(row: Row, key: Key): Promise<void> {
    try {
      const client = this.client = await connect(this.format);
      const columns = await columnsOf(client, tableOf(this.format));
      const existing = new Map(columns?.map((c) => [c.name, c]));
      this.schema = this.format.schema
        ?? (columns ? Object.fromEntries(columns.map((c) => [c.name, VOCABULARY[c.typname] ?? "string"])) : inferSchema(row, key));
      this.names = Object.keys(this.schema);
      this.types = this.names.map((n) => this.schema[n]!);
      // The target's own column types where it has the column: COPY parses text straight into them
      // (uuid, json, numeric, timestamp without time zone) with no cast at commit.
      const defs = this.names.map((n, i) => `${quoteName(n)} ${existing.get(n)?.type ?? PG_TYPE[this.types[i]!]}`);
      await client.query("BEGIN");
      await client.query(`DROP TABLE IF EXISTS ${quoteIdent(this.staged)}`);
      await client.query(`CREATE UNLOGGED TABLE ${quoteIdent(this.staged)} (${defs.join(", ")})`);
      // Whose it is, so that a later job can collect it if this one dies with it committed (collectLeftovers).
      await client.query(`COMMENT ON TABLE ${quoteIdent(this.staged)} IS ${sqlText(JSON.stringify({ job: this.jobId, scratch: this.scratch, host: hostname() } satisfies StagingOwner))}`);
      const copy = copyStreams.from(`COPY ${quoteIdent(this.staged)} (${this.names.map(quoteName).join(", ")}) FROM STDIN`);
      copy.on("error", (err) => (this.failed ??= dbError(err, this.format, client, true)));
      this.copy = client.query(copy);
    } catch (err) {
      throw (this.failed = this.client ? dbError(err, this.format, this.client, true) : err);
    }
  }

  /** No durable prefix: the staging table appears only at close, so a retry starts the part over. */
  sync(): WriteProgress | undefined { return undefined; }

  async close(): Promise<WriteProgress> {
    if (this.setup) await this.setup;
    if (this.failed) throw this.failed;
    // No row, no table: the commit takes a missing staging table of zero records as empty.
    if (!this.copy || !this.client) return { bytes: 0, records: 0 };
    await this.flush();
    const copy = this.copy;
    await new Promise<void>((resolve, reject) => {
      copy.once("finish", resolve).once("error", () => reject(this.failed));
      copy.end();
    });
    if (copy.rowCount !== this.records) throw new SheafError("DATABASE_ERROR", `COPY into ${this.staged} took ${copy.rowCount} rows of ${this.records}`, true);
    try {
      // Fenced against the job's end (see JOB_LOCK): a job that already ended takes no more staging.
      await this.client.query(`SELECT pg_advisory_xact_lock_shared(${JOB_LOCK})`, [this.jobId]);
      const marker = markerOf(this.format);
      // A query on a missing table would abort the transaction: look the table up first.
      const { rows: [present] } = await this.client.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [marker]);
      const ended = present?.ok ? (await this.client.query(`SELECT 1 FROM ${marker} WHERE job_id = $1`, [this.jobId])).rowCount : 0;
      if (ended) {
        await this.client.query("ROLLBACK");
        throw new SheafError("SUPERSEDED", `job ${this.jobId} already ended: its staging in ${this.staged} is dropped`);
      }
      // COMMIT of a transaction that failed answers ROLLBACK, not an error.
      const { command } = await this.client.query("COMMIT");
      if (command !== "COMMIT") throw new SheafError("DATABASE_ERROR", `staging ${this.staged} was rolled back`, true);
    } catch (err) {
      throw (this.failed = dbError(err, this.format, this.client, true));
    }
    this.committed = true;
    await this.client.end().catch(() => {});
    return { bytes: this.bytes, records: this.records };
  }

  async abandon(): Promise<void> {
    await this.setup?.catch(() => {});
    this.failed ??= new SheafError("ABANDONED", `the part staged in ${this.staged} was abandoned`);
    // Before COMMIT, closing the connection rolls the staging table back with everything in it.
    this.copy?.destroy();
    await this.client?.end().catch(() => {});
    if (this.committed) await withClient(this.format, (c) => c.query(`DROP TABLE IF EXISTS ${quoteIdent(this.staged)}`)).catch(() => {});
  }
}

/** A staging table's owner, in its comment: the job, its scratch folder (marked by a `sheaf run`), and the host that wrote it. */
/**
 * Whether a staging table's job is dead without having said so (see collectLeftovers), on positive
 * evidence only: its `sheaf run` is dead on this host; or it was written on this host, whose
 * workdir holds no folder for it any more, and its job id is over an hour old. A job whose scratch
 * folder this machine cannot see (another host's local disk, another mount) is never judged dead.
 */
function leftBehind(o: StagingOwner, now: number): boolean {
  if (existsSync(o.scratch)) return scratchOwner(o.scratch) === "dead run";
  return o.host === hostname() && existsSync(dirname(o.scratch)) && now - (jobIdTime(o.job) ?? now) > LEFTOVER_GRACE_MS;
}

/** A job whose scratch folder is gone is taken for dead once its id is this old. */
const LEFTOVER_GRACE_MS = 3_600_000;

const sqlText = (text: string): string => `'${text.replace(/'/g, "''")}'`;

export function postgresSink(format: PostgresFormat): OutputSink {
  const table = tableOf(format);
  const schema = schemaOf(table);
  const marker = markerOf(format);
  const keys = format.key ?? [];

  /** A part's table, checked to be a staging table of this job (never drop what a PartFile merely names). */
  function stagedOf(part: PartFile, prefix: string): string {
    const dot = part.path.lastIndexOf(".");
    if (!part.path.slice(dot + 1).startsWith(prefix) || (dot < 0 ? undefined : part.path.slice(0, dot)) !== schema) {
      throw new SheafError("BAD_PART", `${part.path} is not a staging table of this job for ${table}`);
    }
    return quoteIdent(part.path);
  }

  /** Drops every staging table of the job (those of losing and crashed attempts too). */
  async function dropStaging(client: pg.Client, prefix: string): Promise<void> {
    const { rows } = await client.query<{ t: string }>(
      `SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS t FROM pg_tables
        WHERE schemaname = coalesce($1, current_schema()) AND left(tablename, length($2)) = $2`, [schema ?? null, prefix]);
    if (rows.length) await client.query(`DROP TABLE IF EXISTS ${rows.map((r) => r.t).join(", ")}`);
  }

  /** Inside the commit transaction: creates the target if absent, then moves the parts in; returns rows loaded. */
  async function load(client: pg.Client, parts: readonly PartFile[]): Promise<number> {
    const staged: { name: string; part: PartFile; columns: Column[] }[] = [];
    for (const part of parts) {
      const columns = await columnsOf(client, part.path);
      if (columns) staged.push({ name: quoteIdent(part.path), part, columns });
      else if (part.records > 0) throw new SheafError("STAGING_LOST", `the staged part ${part.path} (${part.records} rows) is gone: the job cannot load ${table}`);
    }
    const target = quoteIdent(table);
    if (!(await columnsOf(client, table))) {
      const pk = format.mode === "upsert" ? `, PRIMARY KEY (${keys.map(quoteName).join(", ")})` : "";
      if (format.schema) {
        const defs = Object.entries(format.schema).map(([n, t]) => `${quoteName(n)} ${PG_TYPE[t]}`);
        await client.query(`CREATE TABLE ${target} (${defs.join(", ")}${pk})`);
      } else if (staged[0]) {
        await client.query(`CREATE TABLE ${target} (LIKE ${staged[0].name}${pk})`);
      } else {
        return 0; // nothing staged, nothing to make the table from
      }
    }
    // Writers wait for the load; readers go on seeing the old rows until COMMIT.
    await client.query(`LOCK TABLE ${target} IN SHARE ROW EXCLUSIVE MODE`);
    // DELETE rather than TRUNCATE: TRUNCATE takes an ACCESS EXCLUSIVE lock (readers would wait for
    // the whole load) and is not MVCC-safe (older snapshots would see the table empty).
    if (format.mode === "replace") await client.query(`DELETE FROM ${target}`);
    let loaded = 0;
    for (const { name, part, columns } of staged) {
      const cols = columns.map((c) => quoteName(c.name)).join(", ");
      if (format.mode !== "upsert") {
        const { rowCount } = await client.query(`INSERT INTO ${target} (${cols}) SELECT ${cols} FROM ${name}`);
        checkCount(part, rowCount ?? 0);
        loaded += rowCount ?? 0;
        continue;
      }
      const { rows } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${name}`);
      checkCount(part, Number(rows[0]!.n));
      const k = keys.map(quoteName).join(", ");
      const missing = keys.filter((key) => !columns.some((c) => c.name === key));
      if (missing.length) throw new SheafError("BAD_OUTPUT_ROW", `upsert into ${table}: the rows have no key column ${missing.join(", ")}`);
      const set = columns.filter((c) => !keys.includes(c.name)).map((c) => `${quoteName(c.name)} = EXCLUDED.${quoteName(c.name)}`);
      // Rows sharing a key: the last one wins, in part order (one INSERT per part, in order) and
      // within a part in the order written (COPY fills a fresh table in ctid order).
      const { rowCount } = await client.query(
        `INSERT INTO ${target} (${cols}) SELECT ${cols} FROM (SELECT DISTINCT ON (${k}) * FROM ${name} ORDER BY ${k}, ctid DESC) AS d
         ON CONFLICT (${k}) DO ${set.length ? `UPDATE SET ${set.join(", ")}` : "NOTHING"}`,
      );
      loaded += rowCount ?? 0;
    }
    return loaded;
  }

  /** An UNLOGGED table is emptied by a server crash: a part that lost rows must fail the load, not shrink it. */
  function checkCount(part: PartFile, rows: number): void {
    if (rows === part.records) return;
    throw new SheafError("STAGING_LOST", `the staged part ${part.path} holds ${rows} rows, ${part.records} were written (a server restart empties unlogged tables)`);
  }

  /**
   * Drops the staging tables in the target's schema that dead jobs left (a job drops its own when it
   * ends; one killed with parts committed never does): a job the loads table says ended, a
   * `sheaf run` dead on this host (by its scratch folder's mark), or one whose scratch folder is
   * gone and whose id is older than an hour. Tables without an owner comment are left alone.
   */
  async function collectLeftovers(client: pg.Client): Promise<void> {
    const { rows } = await client.query<{ t: string; owner: string | null }>(
      `SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS t, obj_description((quote_ident(schemaname) || '.' || quote_ident(tablename))::regclass, 'pg_class') AS owner
         FROM pg_tables WHERE schemaname = coalesce($1, current_schema()) AND left(tablename, 12) = 'sheaf_stage_'`, [schema ?? null]);
    const owned = rows.flatMap((r) => {
      try {
        const o = ifValid(Schemas.stagingOwner, JSON.parse(r.owner ?? ""));
        return o ? [{ table: r.t, ...o }] : [];
      } catch {
        return [];
      }
    });
    if (owned.length === 0) return;
    const { rows: [hasMarker] } = await client.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [marker]);
    const ended = new Set(hasMarker?.ok ? (await client.query<{ job_id: string }>(`SELECT job_id FROM ${marker} WHERE job_id = ANY($1)`, [owned.map((o) => o.job)])).rows.map((r) => r.job_id) : []);
    const dead = owned.filter((o) => ended.has(o.job) || leftBehind(o, Date.now()));
    if (dead.length) await client.query(`DROP TABLE IF EXISTS ${dead.map((d) => d.table).join(", ")}`);
  }

  /**
   * One writer per table: a row per target in `sheaf_writers` (beside the target) names the job
   * loading it, as an output folder's lock file does; a dead holder's row is taken over.
   */
  const writers = quoteIdent(schema ? `${schema}.sheaf_writers` : "sheaf_writers");
  // The row's key is the table qualified by its schema: `t` and `public.t` are one table.
  const KEY = schema ? "$1::text" : "(current_schema() || '.' || $1::text)";
  const lock: OutputLock = {
    async take(jobId, by, alive) {
      const mine = holderOf(jobId, by);
      await withClient(format, async (client) => {
        await client.query(`CREATE TABLE IF NOT EXISTS ${writers} (target text PRIMARY KEY, job_id text NOT NULL, holder text NOT NULL)`).catch((err) => {
          if (!["23505", "42P07"].includes(String((err as { code?: unknown }).code))) throw err; // made at the same time by another job
        });
        for (let tries = 0; tries < 5; tries++) {
          const { rowCount } = await client.query(`INSERT INTO ${writers} (target, job_id, holder) VALUES (${KEY}, $2, $3) ON CONFLICT (target) DO NOTHING`, [table, jobId, JSON.stringify(mine)]);
          if (rowCount === 1) return;
          const holder = await holderIn(client);
          if (holder?.jobId === jobId) return;
          if (holder && (await alive(holder))) throw writerBusy(`table ${table}`, holder, `its row in ${writers}`);
          // Its holder is gone: its row removed (if still its), then taken exclusively (another taker may win).
          await client.query(`DELETE FROM ${writers} WHERE target = ${KEY} AND job_id = $2`, [table, holder?.jobId ?? ""]);
        }
        throw new SheafError("OUTPUT_BUSY", `table ${table}: could not take its row in ${writers}`);
      });
    },
    async checkFree(alive, jobId) {
      await withClient(format, async (client) => {
        const holder = await holderIn(client).catch(() => undefined); // no writers table yet: free
        if (holder && holder.jobId !== jobId && (await alive(holder))) throw writerBusy(`table ${table}`, holder, `its row in ${writers}`);
      });
    },
    async release(jobId) {
      await withClient(format, (client) => client.query(`DELETE FROM ${writers} WHERE target = ${KEY} AND job_id = $2`, [table, jobId])).catch(() => {});
    },
  };

  async function holderIn(client: pg.Client): Promise<WriterLock | undefined> {
    const { rows: [row] } = await client.query<{ holder: string }>(`SELECT holder FROM ${writers} WHERE target = ${KEY}`, [table]);
    try {
      return row ? ifValid(Schemas.writerLock, JSON.parse(row.holder)) : undefined;
    } catch {
      return undefined;
    }
  }

  return {
    lock: () => lock,

    async check(): Promise<void> {
      await withClient(format, async (client) => {
        await collectLeftovers(client).catch(() => {}); // best effort: never what stops a job
        const columns = await columnsOf(client, table);
        const names = columns?.map((c) => c.name) ?? Object.keys(format.schema ?? {});
        const lacking = (wanted: readonly string[], what: string): void => {
          const no = wanted.filter((n) => !names.includes(n));
          if (no.length) throw new SheafError("BAD_OUTPUT", `${what} ${no.join(", ")}: not in ${columns ? `table ${table}` : "the output schema"}`);
        };
        if (columns && format.schema) lacking(Object.keys(format.schema), `output schema column`);
        if (format.mode !== "upsert" || (!columns && !format.schema)) return;
        lacking(keys, `upsert key column`);
        if (!columns) return;
        const { rows } = await client.query(
          `SELECT 1 FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL AND i.indnkeyatts = cardinality($2::name[])
             AND (SELECT array_agg(a.attname::name ORDER BY a.attname) FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey[0:i.indnkeyatts - 1]))
                 = (SELECT array_agg(k ORDER BY k) FROM unnest($2::name[]) k)`,
          [quoteIdent(table), keys],
        );
        if (rows.length === 0) throw new SheafError("BAD_OUTPUT", `upsert into ${table} needs a primary key or unique index on (${keys.join(", ")})`);
      });
    },

    async commit(jobId: string, parts: readonly PartFile[], fingerprint?: string): Promise<void> {
      const prefix = stagePrefix(jobId);
      for (const part of parts) stagedOf(part, prefix);
      await withClient(format, async (client) => {
        try {
          await client.query(MARKER_DDL(marker));
        } catch (err) {
          // Two first-ever commits creating it at once: the loser finds it made.
          if (!["23505", "42P07"].includes(String((err as { code?: unknown }).code))) throw err;
        }
        await client.query("BEGIN");
        try {
          await client.query(`SELECT pg_advisory_xact_lock(${JOB_LOCK})`, [jobId]);
          // The marker row first: a concurrent commit of the same job waits here for ours, then
          // finds the row and does nothing; a repeat after a COMMIT that went through does nothing.
          const claim = await client.query(`INSERT INTO ${marker} (job_id, target, rows) VALUES ($1, $2, 0) ON CONFLICT (job_id) DO NOTHING`, [jobId, table]);
          if (claim.rowCount === 1) {
            const rows = await load(client, parts);
            const { rows: [id] } = await client.query<{ oid: string | null; filenode: string | null }>(TARGET_IDENTITY, [quoteIdent(table)]);
            await client.query(`UPDATE ${marker} SET rows = $2, loaded_at = now(), fingerprint = $3, target_oid = $4, target_filenode = $5 WHERE job_id = $1`, [
              jobId, rows, fingerprint ?? null, id?.oid ?? null, id?.filenode ?? null,
            ]);
            await client.query("COMMIT");
          } else {
            const { rows } = await client.query<{ outcome: string }>(`SELECT outcome FROM ${marker} WHERE job_id = $1`, [jobId]);
            await client.query("ROLLBACK");
            if (rows[0]?.outcome === "aborted") throw new SheafError("JOB_ABORTED", `job ${jobId} was aborted: its rows were not loaded into ${table}`);
          }
        } catch (err) {
          await client.query("ROLLBACK").catch(() => {});
          throw err;
        }
        // Loaded (now or before): the staged parts are of no more use.
        await dropStaging(client, prefix).catch(() => {});
      });
    },

    async committedFingerprint(): Promise<string | undefined> {
      return withClient(format, async (client) => {
        const { rows: [there] } = await client.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [marker]);
        if (!there?.ok) return undefined;
        const { rows: [last] } = await client.query<{ fingerprint: string | null; target_oid: string | null; target_filenode: string | null }>(
          `SELECT fingerprint, target_oid, target_filenode FROM ${marker} WHERE target = $1 AND outcome = 'loaded' ORDER BY loaded_at DESC LIMIT 1`, [table]);
        if (!last?.fingerprint) return undefined;
        const { rows: [now] } = await client.query<{ oid: string | null; filenode: string | null }>(TARGET_IDENTITY, [quoteIdent(table)]);
        return now?.oid !== null && now?.oid === last.target_oid && now?.filenode === last.target_filenode ? last.fingerprint : undefined;
      });
    },

    async discard(part: PartFile): Promise<void> {
      const name = stagedOf(part, "sheaf_stage_");
      // Best effort: the job's commit or abort drops whatever is left by prefix.
      await withClient(format, (c) => c.query(`DROP TABLE IF EXISTS ${name}`)).catch(() => {});
    },

    async abort(jobId: string): Promise<void> {
      await withClient(format, async (client) => {
        await client.query(MARKER_DDL(marker)).catch(() => {}); // created concurrently: the insert below tells
        await client.query("BEGIN");
        try {
          await client.query(`SELECT pg_advisory_xact_lock(${JOB_LOCK})`, [jobId]);
          // Recorded as ended, so a straggler's staging rolls back instead of outliving the job; a job loaded already stays loaded.
          await client.query(`INSERT INTO ${marker} (job_id, target, rows, outcome) VALUES ($1, $2, 0, 'aborted') ON CONFLICT (job_id) DO NOTHING`, [jobId, table]);
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK").catch(() => {});
          throw err;
        }
        await dropStaging(client, stagePrefix(jobId));
      });
    },
  };
}
