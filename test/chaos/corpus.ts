/**
 * The chaos runner's data and its independent recounts: seeded corpora written to disk, word counts
 * by a plain loop (never by engine code), and readers of an output folder and of a table that say
 * which known version they hold, or what is wrong with them.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeRng } from "../support/rng.js";

/** `files` text files under `dir`, lines of 1-9 words from a vocabulary of `vocab` words drawn by `seed`. */
export function writeCorpus(dir: string, files: number, lines: number, vocab: number, seed: number): string[] {
  const rng = makeRng(seed);
  mkdirSync(dir, { recursive: true });
  const words = Array.from({ length: vocab }, (_, i) => `w${seed % 97}x${i.toString(36)}`);
  const paths: string[] = [];
  for (let f = 0; f < files; f++) {
    const text: string[] = [];
    for (let i = 0; i < lines; i++) {
      const n = 1 + Math.floor(rng() * 9);
      text.push(Array.from({ length: n }, () => words[Math.floor(rng() * vocab)]!).join(rng() < 0.2 ? "  " : " "));
    }
    const p = join(dir, `part-${String(f).padStart(2, "0")}.txt`);
    writeFileSync(p, text.join("\n") + "\n");
    paths.push(p);
  }
  return paths;
}

/** Word counts (lower-cased runs of [a-z0-9]), as the faulty fixture computes them, by a plain loop over the files. */
export function countWords(files: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const f of files) {
    for (const line of readFileSync(f, "utf8").split("\n")) {
      for (const w of line.toLowerCase().match(/[a-z0-9]+/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
    }
  }
  return counts;
}

/** A map in one canonical text, to compare versions. */
export const canonical = (m: ReadonlyMap<string, number>): string => JSON.stringify([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** What an output folder holds, read by a reader that knows nothing of the engine. */
export type FolderView =
  | { kind: "absent" }
  | { kind: "empty" } // the folder exists without part files or _SUCCESS (a job that failed before writing)
  | { kind: "complete"; counts: Map<string, number> }
  | { kind: "bad"; why: string };

const PART = /^part-\d{5,}/;

/**
 * Reads a tsv word count folder: complete (with `_SUCCESS`, every key once, each part in key
 * order), or what is wrong. A folder swapped during the read (a commit's rename) is read again.
 */
export function readFolder(dir: string): FolderView {
  for (let tries = 0; ; tries++) {
    const before = inode(dir);
    const view = readOnce(dir);
    // A commit swapped the folder while we read it: read the new one.
    if (inode(dir) === before || tries >= 20) return view;
  }
}

function inode(dir: string): number {
  try {
    return statSync(dir).ino;
  } catch {
    return -1;
  }
}

function readOnce(dir: string): FolderView {
  if (!existsSync(dir)) return { kind: "absent" };
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? { kind: "absent" } : { kind: "bad", why: `unreadable: ${(err as Error).message}` };
  }
  const parts = names.filter((n) => PART.test(n)).sort();
  const success = names.includes("_SUCCESS");
  if (!success) return parts.length ? { kind: "bad", why: `partial: ${parts.length} part files and no _SUCCESS` } : { kind: "empty" };
  const counts = new Map<string, number>();
  try {
    for (const p of parts) {
      const text = readFileSync(join(dir, p), "utf8");
      if (text !== "" && !text.endsWith("\n")) return { kind: "bad", why: `${p} is cut short` };
      let prev: Buffer | undefined;
      for (const line of text === "" ? [] : text.slice(0, -1).split("\n")) {
        const [w, n, ...rest] = line.split("\t");
        if (w === undefined || n === undefined || rest.length || !/^\d+$/.test(n)) return { kind: "bad", why: `${p}: a malformed line ${JSON.stringify(line)}` };
        const key = Buffer.from(w);
        if (prev && Buffer.compare(prev, key) >= 0) return { kind: "bad", why: `${p}: ${w} out of key order` };
        prev = key;
        if (counts.has(w)) return { kind: "bad", why: `${w} in two part files (doubled)` };
        counts.set(w, Number(n));
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "bad", why: "a part file vanished while read" };
    return { kind: "bad", why: `unreadable: ${(err as Error).message}` };
  }
  return { kind: "complete", counts };
}

/** How two counts differ, in a few words (for a report). */
export function diffCounts(got: ReadonlyMap<string, number>, want: ReadonlyMap<string, number>): string {
  const missing = [...want.keys()].filter((k) => !got.has(k));
  const extra = [...got.keys()].filter((k) => !want.has(k));
  const differ = [...want].filter(([k, v]) => got.has(k) && got.get(k) !== v);
  const parts: string[] = [];
  if (missing.length) parts.push(`${missing.length} keys missing (${missing.slice(0, 3).join(", ")})`);
  if (extra.length) parts.push(`${extra.length} keys extra (${extra.slice(0, 3).join(", ")})`);
  if (differ.length) parts.push(`${differ.length} counts differ (${differ.slice(0, 3).map(([k, v]) => `${k}: ${got.get(k)} not ${v}`).join(", ")})`);
  return parts.join("; ") || "equal";
}

export const sameCounts = (a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean => canonical(a) === canonical(b);
