/**
 * Rows and schemas for tabular outputs (csv, arrow, parquet, postgres): every value that reaches
 * the output must be a plain object; its fields must fit the schema, given or inferred from the
 * first row (number → float64, bigint → int64, string, boolean → bool, Date → timestamp).
 */
import type { ColumnType, Schema } from "../api/formats.js";
import type { Key } from "../api/types.js";
import { SheafError } from "../errors.js";
import { showKey } from "../show.js";

export type Row = Record<string, unknown>;

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function show(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  const text = JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)) ?? String(value);
  return text.length > 120 ? text.slice(0, 120) + "…" : text;
}

/** Names the output record (its key) in an error. */
function record(key: Key): string {
  return `the record with key ${showKey(key)}`;
}

/** The value of a reduce (or a map-only emit) as a row, or an error naming the record. */
export function asRow(key: Key, value: unknown): Row {
  if (value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Date)) {
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) return value as Row;
  }
  throw new SheafError("BAD_OUTPUT_ROW", `a tabular output needs each value to be a plain object (a row), got ${show(value)} for ${record(key)}`);
}

/** The type a value gives a column when the schema is inferred; undefined for null (unknown yet). */
export function typeOfValue(value: unknown): ColumnType | undefined {
  switch (typeof value) {
    case "number": return "float64";
    case "bigint": return "int64";
    case "string": return "string";
    case "boolean": return "bool";
    case "object":
      if (value === null) return undefined;
      if (value instanceof Date) return "timestamp";
  }
  return undefined;
}

/**
 * The schema of the first row: its fields in order, typed by their values. A field that is null
 * in the first row has no type to infer: it is a string column unless a schema says otherwise.
 */
export function inferSchema(row: Row, key: Key): Schema {
  const schema: Record<string, ColumnType> = {};
  for (const [name, value] of Object.entries(row)) {
    if (value === undefined) continue;
    const type = value === null ? "string" : typeOfValue(value);
    if (!type) throw new SheafError("BAD_OUTPUT_ROW", `field ${name} of ${record(key)} is ${show(value)}: a column holds strings, numbers, bigints, booleans or Dates`);
    schema[name] = type;
  }
  if (Object.keys(schema).length === 0) throw new SheafError("BAD_OUTPUT_ROW", `${record(key)} is an empty row: no columns to infer a schema from`);
  return schema;
}

/**
 * Checks that a row fits the schema and returns its values in schema order (null for missing).
 * A field the schema does not have, or a value that does not fit its column, fails naming both.
 */
export function fitRow(schema: Schema, names: readonly string[], row: Row, key: Key): unknown[] {
  for (const name in row) {
    if (!(name in schema) && row[name] !== undefined) {
      throw new SheafError("BAD_OUTPUT_ROW", `field ${name} of ${record(key)} is not in the output schema (${names.join(", ")})`);
    }
  }
  const out = new Array<unknown>(names.length);
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    out[i] = fitValue(schema[name]!, row[name], name, key);
  }
  return out;
}

/** A value converted to its column's representation; an error naming the field and record otherwise. */
export function fitValue(type: ColumnType, value: unknown, name: string, key: Key): unknown {
  if (value === null || value === undefined) return null;
  const bad = (why = `does not fit column type ${type}`): never => {
    throw new SheafError("BAD_OUTPUT_ROW", `field ${name} of ${record(key)} is ${show(value)}, which ${why}`);
  };
  switch (type) {
    case "string":
      return typeof value === "string" ? value : bad();
    case "float64":
      if (typeof value === "number") return value;
      if (typeof value === "bigint") return Number(value);
      return bad();
    case "int32":
      if (typeof value === "number" && Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX) return value;
      if (typeof value === "bigint" && value >= BigInt(INT32_MIN) && value <= BigInt(INT32_MAX)) return Number(value);
      return bad();
    case "int64":
      if (typeof value === "bigint") return value >= INT64_MIN && value <= INT64_MAX ? value : bad();
      if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
      return bad(typeof value === "number" && Number.isInteger(value) ? "is beyond 2^53: give int64 values as bigints" : undefined);
    case "bool":
      return typeof value === "boolean" ? value : bad();
    case "date":
    case "timestamp":
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? bad("is an invalid Date") : value;
      return bad();
  }
}

/** Formats a Date as the column type's text: `YYYY-MM-DD` for date, ISO 8601 (UTC) for timestamp. */
export function dateText(type: "date" | "timestamp", d: Date): string {
  return type === "date" ? d.toISOString().slice(0, 10) : d.toISOString();
}
