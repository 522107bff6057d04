/**
 * Typed CSV values read straight from bytes, without a string per field. Each function takes the
 * common spellings only and returns `undefined` for anything else: the caller then decodes the
 * text and asks `parseValue` (csv-values.ts), which gives the value or the error. So the bytes
 * path never accepts what `parseValue` refuses, nor reads a value differently from it.
 */

const SPACE = 32, TAB = 9, PLUS = 43, MINUS = 45, DOT = 46, ZERO = 48, NINE = 57, COLON = 58, T = 84, Z = 90, LOWER_T = 116, LOWER_Z = 122;
const DAY_MS = 86_400_000;
/** Exact powers of ten as doubles (through 10^22): a quotient by one is correctly rounded. */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/** Skips ASCII blanks from s; a field with other whitespace falls back to the text path (String.trim knows them). */
function trimStart(b: Uint8Array, s: number, e: number): number {
  while (s < e && (b[s] === SPACE || b[s] === TAB)) s++;
  return s;
}
function trimEnd(b: Uint8Array, s: number, e: number): number {
  while (e > s && (b[e - 1] === SPACE || b[e - 1] === TAB)) e--;
  return e;
}

/** An integer of at most 15 digits (exact in a double), or undefined. */
export function intFromBytes(b: Uint8Array, s: number, e: number): number | undefined {
  s = trimStart(b, s, e);
  e = trimEnd(b, s, e);
  let neg = false;
  if (s < e && (b[s] === MINUS || b[s] === PLUS)) neg = b[s++] === MINUS;
  if (s === e || e - s > 15) return undefined;
  let n = 0;
  for (let i = s; i < e; i++) {
    const d = b[i]! - ZERO;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return neg ? -n : n;
}

/**
 * A decimal without exponent whose digits fit 2^53, or undefined. Digits / 10^k with both exact
 * is the correctly rounded double (Clinger's fast path): what Number(text) gives.
 */
export function floatFromBytes(b: Uint8Array, s: number, e: number): number | undefined {
  s = trimStart(b, s, e);
  e = trimEnd(b, s, e);
  let neg = false;
  if (s < e && (b[s] === MINUS || b[s] === PLUS)) neg = b[s++] === MINUS;
  let m = 0, digits = 0, frac = -1;
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c === DOT && frac < 0) { frac = 0; continue; }
    const d = c - ZERO;
    if (d < 0 || d > 9) return undefined;
    m = m * 10 + d;
    digits++;
    if (frac >= 0) frac++;
  }
  // "." alone or "1." and ".5" are numbers to parseValue as well; no digit at all is not.
  if (digits === 0 || digits > 15 || frac > 22) return undefined;
  const v = frac > 0 ? m / POW10[frac]! : m;
  return neg ? -v : v;
}

function two(b: Uint8Array, i: number): number {
  const x = b[i]! - ZERO, y = b[i + 1]! - ZERO;
  return x >= 0 && x <= 9 && y >= 0 && y <= 9 ? x * 10 + y : -1;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil); -1e9 when the day does not exist. */
function civilDays(y: number, m: number, d: number): number {
  if (m < 1 || m > 12 || d < 1 || d > monthDays(y, m)) return -1e9;
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function monthDays(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/**
 * The day number of the first of each month, and the month's length, from 1900 through 2199, made
 * once: the civil-date arithmetic per field was a fifth of the reader's time on timestamped rows.
 */
const FIRST_YEAR = 1900, YEARS = 300;
const MONTH_START = new Int32Array(YEARS * 12);
const MONTH_DAYS = new Uint8Array(YEARS * 12);
for (let k = 0; k < YEARS * 12; k++) {
  const y = FIRST_YEAR + Math.floor(k / 12), m = (k % 12) + 1;
  MONTH_START[k] = civilDays(y, m, 1);
  MONTH_DAYS[k] = monthDays(y, m);
}

/** `YYYY-MM-DD` as days since the epoch at s; undefined unless well formed (years under 100 go the text way: Date.UTC maps them to 19xx). */
function dateAt(b: Uint8Array, s: number): number | undefined {
  const hi = two(b, s), lo = two(b, s + 2), mo = two(b, s + 5), d = two(b, s + 8);
  if (hi < 0 || lo < 0 || mo < 0 || d < 0 || b[s + 4] !== MINUS || b[s + 7] !== MINUS) return undefined;
  const y = hi * 100 + lo;
  if (y < 100) return undefined;
  if (y >= FIRST_YEAR && y < FIRST_YEAR + YEARS && mo >= 1 && mo <= 12) {
    const k = (y - FIRST_YEAR) * 12 + mo - 1;
    return d >= 1 && d <= MONTH_DAYS[k]! ? MONTH_START[k]! + d - 1 : undefined;
  }
  const days = civilDays(y, mo, d);
  return days === -1e9 ? undefined : days;
}

/** A `date` column's value, days since the epoch, or undefined. */
export function dateFromBytes(b: Uint8Array, s: number, e: number): number | undefined {
  s = trimStart(b, s, e);
  e = trimEnd(b, s, e);
  return e - s === 10 ? dateAt(b, s) : undefined;
}

/**
 * A `timestamp` column's value in epoch milliseconds, or undefined: `YYYY-MM-DD`, then optionally
 * `[T ]HH:MM[:SS[.f…]]` and `Z`, in range (no rollover: the text path decides those). The fraction
 * is floored to milliseconds as parseValue does, by the same double arithmetic.
 */
export function timestampFromBytes(b: Uint8Array, s: number, e: number): number | undefined {
  s = trimStart(b, s, e);
  e = trimEnd(b, s, e);
  if (e > s && (b[e - 1] === Z || b[e - 1] === LOWER_Z)) e--;
  if (e - s < 10) return undefined;
  const days = dateAt(b, s);
  if (days === undefined) return undefined;
  let ms = days * DAY_MS;
  if (e - s === 10) return ms;
  const sep = b[s + 10];
  if ((sep !== T && sep !== LOWER_T && sep !== SPACE) || e - s < 16) return undefined;
  const h = two(b, s + 11), mi = two(b, s + 14);
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || b[s + 13] !== COLON) return undefined;
  ms += h * 3_600_000 + mi * 60_000;
  if (e - s === 16) return ms;
  if (e - s < 19 || b[s + 16] !== COLON) return undefined;
  const sec = two(b, s + 17);
  if (sec < 0 || sec > 59) return undefined;
  ms += sec * 1000;
  if (e - s === 19) return ms;
  // A fraction of 1 to 9 digits: Math.floor(Number(".fff…") * 1000), as parseValue computes it.
  const digits = e - s - 20;
  if (b[s + 19] !== DOT || digits < 1 || digits > 9) return undefined;
  let f = 0;
  for (let i = s + 20; i < e; i++) {
    const d = b[i]! - ZERO;
    if (d < 0 || d > 9) return undefined;
    f = f * 10 + d;
  }
  // Milliseconds as written: Math.floor((f / 1000) * 1000) is f for every f below 1000 (checked exhaustively).
  return ms + (digits === 3 ? f : Math.floor((f / POW10[digits]!) * 1000));
}

export const isDigit = (c: number): boolean => c >= ZERO && c <= NINE;
