/** Text ↔ typed values for CSV, in the column type vocabulary (core/api/formats.ts). */
import type { ColumnType } from "../api/formats.js";
import { dateText } from "./schema.js";

const INT = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(Infinity|inf)$|^NaN$/i;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const TRUE = new Set(["true", "t", "1", "yes", "y"]);
const FALSE = new Set(["false", "f", "0", "no", "n"]);

/** Thrown by parseValue: the message says what the text is not. */
export class ValueError extends Error {}

function utc(y: string, mo: string, d: string, h = "0", mi = "0", s = "0", frac = ""): Date {
  const ms = frac ? Math.floor(Number(frac) * 1000) : 0;
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms));
  // Date.UTC rolls over (Feb 30 → Mar 2): refuse what does not round-trip.
  if (date.getUTCDate() !== Number(d) || date.getUTCMonth() !== Number(mo) - 1) throw new ValueError("is not a valid date");
  return date;
}

/** The typed value of a non-empty field; throws ValueError when it does not fit. */
export function parseValue(type: ColumnType, text: string): unknown {
  switch (type) {
    case "string":
      return text;
    case "int32": {
      const t = text.trim();
      const n = Number(t);
      if (!INT.test(t) || n < -(2 ** 31) || n > 2 ** 31 - 1) throw new ValueError("is not an int32");
      return n;
    }
    case "int64": {
      const t = text.trim();
      if (!INT.test(t)) throw new ValueError("is not an int64");
      const n = BigInt(t);
      if (n < -(2n ** 63n) || n > 2n ** 63n - 1n) throw new ValueError("is out of the int64 range");
      return n;
    }
    case "float64": {
      const t = text.trim();
      if (!FLOAT.test(t)) throw new ValueError("is not a number");
      return /inf$/i.test(t) ? (t.startsWith("-") ? -Infinity : Infinity) : Number(t);
    }
    case "bool": {
      const t = text.trim().toLowerCase();
      if (TRUE.has(t)) return true;
      if (FALSE.has(t)) return false;
      throw new ValueError("is not a boolean (true/false, t/f, yes/no, y/n, 1/0, in any case)");
    }
    case "date": {
      const m = DATE.exec(text.trim());
      if (!m) throw new ValueError("is not a date (YYYY-MM-DD)");
      return utc(m[1]!, m[2]!, m[3]!);
    }
    case "timestamp": {
      const m = TIMESTAMP.exec(text.trim());
      if (!m) throw new ValueError("is not a timestamp (YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH:MM])");
      const d = utc(m[1]!, m[2]!, m[3]!, m[4], m[5], m[6], m[7]);
      const zone = m[8];
      if (!zone || zone.toUpperCase() === "Z") return d;
      const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
      const offsetMin = (z[1] === "-" ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0));
      return new Date(d.getTime() - offsetMin * 60_000);
    }
  }
}

const NEEDS_QUOTES = /[",\r\n]/;

/** The CSV text of a value already fitted to its column (see schema.ts fitRow); null is an empty field. */
export function formatValue(type: ColumnType, value: unknown, delimiter: string): string {
  if (value === null || value === undefined) return "";
  if (value instanceof Date) return dateText(type === "date" ? "date" : "timestamp", value);
  if (typeof value !== "string") return String(value);
  const quote = delimiter === "," ? NEEDS_QUOTES.test(value) : NEEDS_QUOTES.test(value) || value.includes(delimiter);
  // An empty string is quoted so that it reads back as "" rather than as null.
  return quote || value === "" ? `"${value.replace(/"/g, '""')}"` : value;
}

/** A header or data line, without its newline: fields joined by the delimiter, CRLF-free. */
export function formatLine(fields: readonly string[], delimiter: string): string {
  return fields.join(delimiter);
}

/** Quotes a column name for the header line when it needs it. */
export function formatName(name: string, delimiter: string): string {
  return formatValue("string", name, delimiter);
}
