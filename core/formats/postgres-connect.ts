/**
 * What the PostgreSQL source and sink share: connecting (with per-client type parsers, never the
 * global pg.types), quoting identifiers, and errors that name the database and table in one line.
 */
import pg from "pg";
import type { CustomTypesConfig } from "pg";
import type { ColumnType, PostgresFormat } from "../api/formats.js";
import { SheafError, messageOf } from "../errors.js";

const OID = { int8: 20, date: 1082, timestamp: 1114 } as const;

const TS = /^(\d{4,})-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(\.\d+)?)?( BC)?$/;

/** `timestamp` text (no zone) read as UTC; `date` text as UTC midnight. ±infinity as ±Infinity, as pg does. */
function parseUtc(text: string): Date | number {
  if (text === "infinity") return Infinity;
  if (text === "-infinity") return -Infinity;
  const m = TS.exec(text);
  if (!m) return new Date(NaN);
  const year = m[8] ? 1 - Number(m[1]) : Number(m[1]);
  const ms = m[7] ? Math.round(Number(m[7]) * 1000) : 0;
  const d = new Date(Date.UTC(2000, Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), ms));
  d.setUTCFullYear(year); // Date.UTC maps years 0-99 to 1900-1999
  return d;
}

const PARSERS: Record<number, (text: string) => unknown> = {
  [OID.int8]: (t) => BigInt(t),
  [OID.date]: parseUtc,
  [OID.timestamp]: parseUtc,
};

/**
 * The row types for one client: int8 → bigint, timestamp and date → UTC Dates; pg's defaults do the
 * rest (int2/int4/float → number, numeric → string, bool, timestamptz → Date, text → string).
 */
export const pgTypes: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") => {
    const own = format !== "binary" ? PARSERS[oid] : undefined;
    return own ?? pg.types.getTypeParser(oid, format as "text");
  }) as CustomTypesConfig["getTypeParser"],
};

/** Column types of the vocabulary as PostgreSQL types (a Date is an instant: timestamptz). */
export const PG_TYPE: Record<ColumnType, string> = {
  string: "text", int32: "integer", int64: "bigint", float64: "double precision", bool: "boolean", date: "date", timestamp: "timestamptz",
};
/** PostgreSQL types (pg_type.typname) in the vocabulary; any other is written as its text: "string". */
export const VOCABULARY: Record<string, ColumnType> = {
  text: "string", varchar: "string", bpchar: "string", name: "string", int2: "int32", int4: "int32", int8: "int64",
  float4: "float64", float8: "float64", numeric: "float64", bool: "bool", date: "date", timestamp: "timestamp", timestamptz: "timestamp",
};
export interface Column { name: string; type: string; typname: string }

/** A table's insertable columns in order (generated ones left out), or undefined when there is no such table. */
export async function columnsOf(client: pg.Client, table: string): Promise<Column[] | undefined> {
  const { rows } = await client.query<Column & { found: boolean }>(
    `SELECT to_regclass($1) IS NOT NULL AS found, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, t.typname
       FROM (SELECT 1) one LEFT JOIN pg_attribute a ON a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
       LEFT JOIN pg_type t ON t.oid = a.atttypid ORDER BY a.attnum`,
    [quoteIdent(table)],
  );
  return rows[0]?.found ? rows.filter((r) => r.name !== null) : undefined;
}

/** One identifier (a column name may hold anything): quoted, a quote inside doubled. */
export function quoteName(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `schema.table` → `"schema"."table"` (table names are checked by postgres(): no dots or quotes inside). */
export function quoteIdent(name: string): string {
  return name.split(".").map(quoteName).join(".");
}

/** The schema part of `schema.table`, or undefined for a bare name (resolved by search_path). */
export function schemaOf(table: string): string | undefined {
  const dot = table.indexOf(".");
  return dot < 0 ? undefined : table.slice(0, dot);
}

/** What error messages call the data: the table, or "query". */
export function subject(format: PostgresFormat): string {
  return format.table !== undefined ? `table ${format.table}` : "the source query";
}

export function clientConfig(format: PostgresFormat): pg.ClientConfig {
  const connectionString = format.url ?? process.env.DATABASE_URL;
  // Without a connection string node-postgres reads PGHOST, PGPORT, PGDATABASE, PGUSER… itself.
  return { ...(connectionString ? { connectionString } : {}), types: pgTypes, connectionTimeoutMillis: 30_000 };
}

function where(client: pg.Client): string {
  return `${client.host}:${client.port}/${client.database ?? "?"}`;
}

/** One line: a system error code, the first of an AggregateError (IPv4 and IPv6 both refused), or the message. */
function oneLine(err: unknown): string {
  const inner = err instanceof AggregateError && err.errors.length > 0 ? err.errors[0] : err;
  const code = (inner as { code?: unknown })?.code;
  const msg = messageOf(inner).replace(/\s*\n\s*/g, " ");
  return typeof code === "string" && !msg.includes(code) ? `${code} ${msg}` : msg;
}

const NETWORK = /^(ECONN|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN)/;

function isConnectionError(err: unknown): boolean {
  const inner = err instanceof AggregateError && err.errors.length > 0 ? err.errors[0] : err;
  const code = String((inner as { code?: unknown })?.code ?? "");
  // node-postgres raises a dropped connection and a connect timeout with no code: only their text tells.
  return NETWORK.test(code) || code.startsWith("08") || code === "57P01" || /Connection terminated|timeout expired/i.test(messageOf(inner));
}

/** The server's detail, and where a COPY failed (`COPY t, line 3, column c: "x"`). */
function detail(err: pg.DatabaseError): string {
  const ctx = err.where?.split("\n")[0];
  const parts = [err.detail, ctx?.startsWith("COPY") ? ctx : undefined].filter(Boolean);
  return parts.length ? ` (${parts.join("; ").replace(/\s*\n\s*/g, " ")})` : "";
}

/**
 * Errors from the driver as SheafErrors naming the server and table: DATABASE_UNREACHABLE for a
 * lost or refused connection (retryable unless it is the credentials or the database name),
 * DATABASE_ERROR for what the server rejected. Other errors (user code, SheafErrors) pass as they are.
 */
export function dbError(err: unknown, format: PostgresFormat, client: pg.Client, connected: boolean): unknown {
  if (err instanceof SheafError) return err;
  const code = String((err as { code?: unknown })?.code ?? "");
  if (!connected || isConnectionError(err)) {
    const fatal = code.startsWith("28") || code === "3D000"; // bad credentials, no such database
    return new SheafError("DATABASE_UNREACHABLE", `cannot reach PostgreSQL at ${where(client)} for ${subject(format)}: ${oneLine(err)}`, !fatal);
  }
  if (err instanceof pg.DatabaseError) {
    const retry = code === "40001" || code === "40P01" || code === "55P03"; // serialization, deadlock, lock timeout
    return new SheafError("DATABASE_ERROR", `PostgreSQL at ${where(client)}, ${subject(format)}: ${oneLine(err)}${detail(err)}`, retry);
  }
  return err;
}

/**
 * A connected client. Sessions run in UTC so that `timestamp` (without time zone) values written
 * from Dates and read back as UTC agree, whatever the server's TimeZone.
 */
export async function connect(format: PostgresFormat): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(format));
  // An idle client whose server goes away emits 'error'; the next query fails anyway.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw dbError(err, format, client, false);
  }
  try {
    await client.query("SET TimeZone = 'UTC'");
  } catch (err) {
    await client.end().catch(() => {});
    throw dbError(err, format, client, true);
  }
  return client;
}

/** Runs fn with a fresh client, closed afterwards; driver errors come out as dbError makes them. */
export async function withClient<T>(format: PostgresFormat, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(format);
  try {
    return await fn(client);
  } catch (err) {
    throw dbError(err, format, client, true);
  } finally {
    await client.end().catch(() => {});
  }
}
