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
