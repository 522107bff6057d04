/**
 * How the engine writes counts and keys in what users read (summaries, status, errors, logs): one
 * place, so every line says "1 map task" and names a key the way the job wrote it.
 */

/** "1,234" with thousands separators. Not toLocaleString: its first call loads ICU data, 50 ms of every run's summary. */
export function count(n: number): string {
  const [int, frac] = String(n).split(".");
  return int!.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (frac ? `.${frac}` : "");
}

/** `plural(1, "map task")` → "1 map task", `plural(3, "map task")` → "3 map tasks"; `many` for irregular nouns. */
export function plural(n: number, noun: string, many = `${noun}s`): string {
  return `${count(n)} ${n === 1 ? noun : many}`;
}

/**
 * A key as the job wrote it, for messages: a bigint as its digits (`100003`, not `100003n`: the
 * int64 column it came from shows it so), a string quoted (so `"7"` and `7` differ), an array of
 * parts as `["fr",2026]`. Long keys are cut at 200 characters.
 */
export function showKey(key: unknown): string {
  const text = keyText(key);
  return text.length > 200 ? text.slice(0, 200) + "…" : text;
}

function keyText(key: unknown): string {
  if (typeof key === "string") return JSON.stringify(key);
  if (typeof key === "number" || typeof key === "bigint" || typeof key === "boolean") return String(key);
  if (Array.isArray(key)) return `[${key.map(keyText).join(",")}]`;
  return JSON.stringify(key) ?? String(key);
}

/** `ms` as a duration flag reads it (parseEvery), in the largest unit that divides it: 604800000 → "7d". */
export function showDuration(ms: number): string {
  const units: [string, number][] = [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000], ["ms", 1]];
  const [unit, size] = units.find(([, size]) => ms % size === 0)!;
  return `${ms / size}${unit}`;
}
