/**
 * A PostgreSQL table or query as job input. With `splitBy`, planning cuts [min, max] of that
 * integer column into `splits` ranges (plus one split for its NULLs); each map task streams its
 * range through a cursor. Rows come in a fixed order, so a retry can skip the records an earlier
 * attempt already mapped (`split.skip`) with OFFSET.
 */
import Cursor from "pg-cursor";
import type pg from "pg";
import type { PostgresFormat } from "../api/formats.js";
import type { RecordLocation } from "../api/types.js";
import { SheafError } from "../errors.js";
import type { Split } from "../splits.js";
import type { InputReader, ReadBatch, ReadStats } from "./format.js";
import { connect, dbError, pgTypes, quoteIdent, withClient } from "./postgres-connect.js";

const BATCH_ROWS = 10_000;
const INTEGER = /^-?\d+$/;

type Row = Record<string, unknown>;

export function postgresReader(format: PostgresFormat): InputReader {
  const label = format.table !== undefined ? `postgres:${format.table}` : "postgres:query";
  // The rows as a relation named sheaf_q, whichever the source is.
  const from = format.table !== undefined ? `${quoteIdent(format.table)} AS sheaf_q` : `(${format.query}) AS sheaf_q`;
  const col = format.splitBy !== undefined ? `sheaf_q.${quoteIdent(format.splitBy)}` : undefined;

  return {
    async plan(): Promise<Split[]> {
      return withClient(format, async (client) => {
        const bytes = await tableBytes(client);
        if (col === undefined) return [{ file: label, start: 0, end: 1, unit: "range", range: { lo: null, hi: null }, ...(bytes ? { bytes } : {}) }];
        const { rows } = await client.query<{ lo: string | null; hi: string | null; nulls: boolean }>(
          `SELECT (SELECT min(${col})::text FROM ${from}) AS lo, (SELECT max(${col})::text FROM ${from}) AS hi,
                  EXISTS (SELECT 1 FROM ${from} WHERE ${col} IS NULL) AS nulls`,
        );
        const { lo, hi, nulls } = rows[0]!;
        const ranges: Split["range"][] = [];
        if (lo !== null && hi !== null) {
          if (!INTEGER.test(lo) || !INTEGER.test(hi)) {
            throw new SheafError("BAD_SPLIT_COLUMN", `postgres(): splitBy column ${format.splitBy} of ${label} must hold integers, found ${lo}…${hi}`);
          }
          const min = BigInt(lo), span = BigInt(hi) - min + 1n;
          const n = span < BigInt(format.splits) ? span : BigInt(format.splits);
          for (let i = 0n; i < n; i++) {
            // The last range is open above: max + 1 could overflow the column's type.
            ranges.push({ lo: String(min + (span * i) / n), hi: i === n - 1n ? null : String(min + (span * (i + 1n)) / n) });
          }
        }
        if (nulls) ranges.push({ lo: null, hi: null, nulls: true });
        // An empty source still gets one (empty) split: a job with no map task at all is a corner
        // the engine need not have; an open range reads whatever the table holds by then.
        if (ranges.length === 0) ranges.push({ lo: null, hi: null });
        const share = bytes && ranges.length ? Math.ceil(bytes / ranges.length) : 0;
        return ranges.map((range, i) => ({ file: label, start: i, end: i + 1, unit: "range" as const, range: range!, ...(share ? { bytes: share } : {}) }));
      });
    },

    async read(split, onBatch): Promise<ReadStats> {
      const client = await connect(format);
      let userError: { err: unknown } | undefined;
      let stats: ReadStats = { bytes: 0, records: 0 };
      try {
        const { text, values } = await rangeQuery(client, split);
        const cursor = client.query(new Cursor<Row>(text, values, { types: pgTypes }));
        const skip = split.skip ?? 0;
        try {
          for (;;) {
            const rows = await cursor.read(BATCH_ROWS);
            if (rows.length === 0) break;
            const first = skip + stats.records;
            stats = { bytes: stats.bytes + estimateBytes(rows), records: stats.records + rows.length };
            const batch = makeBatch(rows, split.file, first, stats.bytes, { skip: skip + stats.records });
            try {
              await onBatch(batch);
            } catch (err) {
              userError = { err };
              throw err;
            }
          }
        } finally {
          await cursor.close().catch(() => {});
        }
        return stats;
      } catch (err) {
        throw userError ? userError.err : dbError(err, format, client, true);
      } finally {
        await client.end().catch(() => {});
      }
    },
  };

  /** Relation size, for progress: known for tables only. A missing table fails the plan here. */
  async function tableBytes(client: pg.Client): Promise<number> {
    if (format.table === undefined) return 0;
    const { rows } = await client.query<{ b: string | null }>("SELECT pg_total_relation_size(to_regclass($1))::text AS b", [quoteIdent(format.table)]);
    if (rows[0]?.b == null) throw new SheafError("DATABASE_ERROR", `the input table ${format.table} does not exist`);
    return Number(rows[0].b);
  }

  /**
   * The split's rows in one fixed order. Ties on splitBy (and whole-table reads) are broken by the
   * row's physical place in a table (tableoid, ctid: stable while the table is not written), else,
   * for a query or a view, by the row's text: a query's own ORDER BY does not survive a subquery.
   */
  async function rangeQuery(client: pg.Client, split: Split): Promise<{ text: string; values: unknown[] }> {
    let physical = false;
    if (format.table !== undefined) {
      const { rows } = await client.query<{ relkind: string }>("SELECT relkind FROM pg_class WHERE oid = to_regclass($1)", [quoteIdent(format.table)]);
      const kind = rows[0]?.relkind;
      if (kind === undefined) throw new SheafError("DATABASE_ERROR", `the input table ${format.table} does not exist`);
      physical = kind === "r" || kind === "p" || kind === "m";
    }
    const tiebreak = physical ? "sheaf_q.tableoid, sheaf_q.ctid" : "sheaf_q::text";
    const values: unknown[] = [];
    const conds: string[] = [];
    const r = split.range;
    if (col !== undefined && r) {
      if (r.nulls) conds.push(`${col} IS NULL`);
      if (r.lo !== null) conds.push(`${col} >= $${values.push(r.lo)}`);
      if (r.hi !== null) conds.push(`${col} < $${values.push(r.hi)}`);
    }
    const order = col !== undefined && !r?.nulls ? `${col}, ${tiebreak}` : tiebreak;
    const skip = split.skip ?? 0;
    const text = `SELECT sheaf_q.* FROM ${from}${conds.length ? ` WHERE ${conds.join(" AND ")}` : ""} ORDER BY ${order}` +
      (skip > 0 ? ` OFFSET $${values.push(String(skip))}` : "");
    return { text, values };
  }
}

function makeBatch(rows: Row[], file: string, first: number, bytes: number, resume: Partial<Split>): ReadBatch {
  return {
    records: rows,
    batch: rows,
    length: rows.length,
    bytes,
    resume,
    location: (i: number): RecordLocation => ({ file, offset: 0, row: first + i }),
  };
}

/** About the size of the rows as text: progress and checkpoint pacing only. */
function estimateBytes(rows: Row[]): number {
  let n = 0;
  for (const row of rows) {
    for (const key in row) {
      const v = row[key];
      n += typeof v === "string" ? v.length + 1 : 9;
    }
  }
  return n;
}
