/** Human-readable numbers for progress lines and summaries. */

export function bytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? Math.round(n) : n.toFixed(n >= 100 ? 0 : 1)} ${units[i]}`;
}

import { count } from "../core/show.js";

export { count, plural } from "../core/show.js";

export function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/** A job's counters as the run summary shows them, `a=1  b=2,000` sorted by name; `name` escapes names read from Redis. */
export function countersText(counters: Readonly<Record<string, number>>, name: (k: string) => string = (k) => k): string {
  return Object.entries(counters).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${name(k)}=${count(v)}`).join("  ");
}

export function rate(n: number, ms: number): number {
  return ms > 0 ? (n * 1000) / ms : 0;
}
