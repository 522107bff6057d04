/**
 * Shared helpers for the integration tests: run the real CLI as a child process, read an output
 * folder, generate corpora, and the oracles' plain-loop building blocks (line splitting, key order,
 * tsv formatting). Nothing here imports engine code: the oracles stay independent of it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CLI = join(REPO, "cli/bin.mjs");
export const FIXTURE_JOBS = join(REPO, "test/fixtures/jobs");
export const EXAMPLE_JOBS = join(REPO, "jobs");

// ---------------------------------------------------------------------------------------------
// Temp folders

/** A temp folder under os.tmpdir(), outside the repo; `cleanup()` removes it (call it in afterAll). */
export class Scratch {
  readonly root: string;
  private n = 0;

  constructor(prefix: string) {
    this.root = mkdtempSync(join(tmpdir(), `sheaf-it-${prefix}-`));
  }

  /** A path under the root (parent folders are created). */
  path(...parts: string[]): string {
    const p = join(this.root, ...parts);
    mkdirSync(dirname(p), { recursive: true });
    return p;
  }

  /** A fresh, not yet existing path for an output folder. */
  fresh(name = "out"): string {
    return this.path(`${name}-${++this.n}`);
  }

  write(rel: string, content: string | Buffer): string {
    const p = this.path(rel);
    writeFileSync(p, content);
    return p;
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Running the CLI

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `node cli/bin.mjs ...args` from the repo root and waits for it. */
export function runCli(args: string[], options: { cwd?: string; timeoutMs?: number } = {}): CliResult {
  const started = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? REPO,
    encoding: "utf8",
    timeout: options.timeoutMs ?? 120_000,
    env: { ...process.env, FORCE_COLOR: "0" },
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

export interface RunSpec {
  job: string;
  inputs: string[];
  output: string;
  workdir: string;
  partitions?: number;
  threads?: number;
  splitSize?: string | number;
  sortBuffer?: string | number;
  params?: Record<string, string>;
  maxAttempts?: number;
  overwrite?: boolean;
  /** Default true: no progress lines, so stderr holds only errors. */
  quiet?: boolean;
  verbose?: boolean;
}

export function runArgs(s: RunSpec): string[] {
  const args = ["run", s.job, "--input", ...s.inputs, "--output", s.output, "--workdir", s.workdir];
  if (s.partitions !== undefined) args.push("--partitions", String(s.partitions));
  if (s.threads !== undefined) args.push("--threads", String(s.threads));
  if (s.splitSize !== undefined) args.push("--split-size", String(s.splitSize));
  if (s.sortBuffer !== undefined) args.push("--sort-buffer", String(s.sortBuffer));
  if (s.maxAttempts !== undefined) args.push("--max-attempts", String(s.maxAttempts));
  for (const [k, v] of Object.entries(s.params ?? {})) args.push("--param", `${k}=${v}`);
  if (s.overwrite) args.push("--overwrite");
  if (s.quiet ?? true) args.push("-q");
  if (s.verbose) args.push("--verbose");
  return args;
}

export function run(s: RunSpec): CliResult {
  return runCli(runArgs(s));
}

/** Runs a job that must succeed; fails the test with the CLI's stderr otherwise. */
export function runOk(s: RunSpec): CliResult {
  const r = run(s);
  if (r.status !== 0) throw new Error(`sheaf ${runArgs(s).join(" ")} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  if (!existsSync(join(s.output, "_SUCCESS"))) throw new Error(`no _SUCCESS in ${s.output}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Reading output folders

const PART = /^part-(\d{5,})(\.\w+)?$/;

/** The part files of an output folder, in part-number order. */
export function partFiles(dir: string): { name: string; bytes: Buffer }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => PART.test(n))
    .sort((a, b) => Number(PART.exec(a)![1]) - Number(PART.exec(b)![1]))
    .map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
}

/** Every part file's text, concatenated in part order. */
export function outputText(dir: string): string {
  return partFiles(dir).map((p) => p.bytes.toString("utf8")).join("");
}

/** Lines of a text (each terminated by \n; the final \n gives no extra line). */
export function textLines(text: string): string[] {
  if (text === "") return [];
  if (!text.endsWith("\n")) throw new Error(`output does not end with a newline: ${JSON.stringify(text.slice(-40))}`);
  return text.slice(0, -1).split("\n");
}

/** What the output folder holds that a failed job must not leave: _SUCCESS and part files. */
export function leftovers(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => n === "_SUCCESS" || n.startsWith("part-"));
}

/** Asserts (by throwing) that two output folders hold the same part files, byte for byte. */
export function sameOutput(a: string, b: string): void {
  const pa = partFiles(a), pb = partFiles(b);
  const names = (ps: { name: string }[]) => ps.map((p) => p.name).join(",");
  if (names(pa) !== names(pb)) throw new Error(`part files differ: ${a} has [${names(pa)}], ${b} has [${names(pb)}]`);
  pa.forEach((p, i) => {
    if (!p.bytes.equals(pb[i]!.bytes)) throw new Error(`${p.name} differs between ${a} and ${b}`);
  });
}

// ---------------------------------------------------------------------------------------------
// tsv, as the contract defines it

const TSV_ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n" };
const TSV_UNESCAPES: Record<string, string> = { "\\\\": "\\", "\\t": "\t", "\\n": "\n" };

/** One tsv field: strings escaped, numbers in JS shortest round-trip form, objects/arrays as compact JSON. */
export function tsvField(v: unknown): string {
  if (typeof v === "string") return v.replace(/[\\\t\n]/g, (c) => TSV_ESCAPES[c]!);
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  return tsvField(JSON.stringify(v));
}

/** The tsv line for one output record: the key's elements, then the value (absent when undefined). */
export function tsvLine(key: unknown, value: unknown): string {
  const cols = Array.isArray(key) ? key.map(tsvField) : [tsvField(key)];
  if (value !== undefined) cols.push(tsvField(value));
  return cols.join("\t") + "\n";
}

export function tsvUnescape(field: string): string {
  return field.replace(/\\[\\tn]/g, (e) => TSV_UNESCAPES[e]!);
}

/** Parses tsv output lines into unescaped columns. */
export function parseTsv(text: string): string[][] {
  return textLines(text).map((l) => l.split("\t").map(tsvUnescape));
}

// ---------------------------------------------------------------------------------------------
// Oracles' building blocks

export interface OracleLine {
  text: string;
  /** Byte offset of the line's first byte in its file. */
  offset: number;
  /** 1-based line number. */
  line: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/**
 * The lines of a file as `lines()` defines them: `\n` or `\r\n` ends a line, a last line without a
 * newline is still a record, invalid UTF-8 decodes to U+FFFD.
 */
export function splitLines(bytes: Uint8Array): OracleLine[] {
  const out: OracleLine[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    const atEnd = i === bytes.length;
    if (atEnd ? start < bytes.length : bytes[i] === 0x0a) {
      let stop = i;
      if (!atEnd && stop > start && bytes[stop - 1] === 0x0d) stop--;
      out.push({ text: utf8.decode(bytes.subarray(start, stop)), offset: start, line: out.length + 1 });
      start = i + 1;
    }
  }
  return out;
}

/** Files in the order the engine must read them: sorted by path. */
export function sortedPaths(paths: readonly string[]): string[] {
  return [...paths].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Every line of every file, files in sorted path order. */
export function allLines(paths: readonly string[]): (OracleLine & { file: string })[] {
  return sortedPaths(paths).flatMap((file) => splitLines(readFileSync(file)).map((l) => ({ ...l, file })));
}

export type OracleKey = string | number | OracleKey[];

/** The contract's key order: numbers numerically, strings by UTF-8 bytes, arrays element by element. */
export function compareOracleKeys(a: OracleKey, b: OracleKey): number {
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "string" && typeof b === "string") return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = compareOracleKeys(a[i]!, b[i]!);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  throw new Error(`oracle compares keys of one type only: ${typeof a} vs ${typeof b}`);
}

/** Strictly increasing by UTF-8 bytes? Returns the first offending pair, or undefined. */
export function firstUnsortedUtf8(keys: readonly string[]): [string, string] | undefined {
  for (let i = 1; i < keys.length; i++) {
    if (Buffer.compare(Buffer.from(keys[i - 1]!, "utf8"), Buffer.from(keys[i]!, "utf8")) >= 0) return [keys[i - 1]!, keys[i]!];
  }
  return undefined;
}

export { makeRng } from "../support/rng.js";

export const pick = <T>(rng: () => number, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;

/**
 * Words that stress decoding and byte order: ASCII, Latin-1 and CJK, astral-plane emoji (UTF-16
 * surrogates, which sort BELOW U+E000 in UTF-16 but ABOVE it in UTF-8), private-use and specials.
 */
export const UNICODE_WORDS: readonly string[] = [
  "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "a", "A", "Zebra", "zebra", "42", "x1",
  "naïve", "café", "Ünïcödé", "straße", "日本語", "中文", "한국어", "Ελληνικά", "кириллица",
  "😀", "😀😀", "👍🏽", "𝄞music", "🦀", "\u{10FFFF}",
  "\uE000", "\uE000x", "\uF8FF", "\uFB01", "\uFFFD", "\uFFFDz", "~", "é", "e\u0301",
];

/** Lines of random words joined by runs of spaces and tabs. */
export function randomText(rng: () => number, lines: number, words: readonly string[] = UNICODE_WORDS): string[] {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const n = Math.floor(rng() * 9); // some lines are empty
    let line = rng() < 0.1 ? " " : "";
    for (let w = 0; w < n; w++) line += (w ? pick(rng, [" ", "  ", "\t", " \t "]) : "") + pick(rng, words);
    out.push(line);
  }
  return out;
}

/** The word count of jobs/wordcount.ts, computed by a plain loop over the whole text: the oracle. */
export function wordCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const w of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  return counts;
}

/** The built CLI's bundler (it resolves `sheaf` to the built public API, as `sheaf submit` does). */
export async function builtBundleJob(jobFile: string, workdir: string): Promise<{ sha256: string; path: string }> {
  const { bundleJob } = (await import(join(REPO, "dist/runner/bundle.js"))) as typeof import("../../runner/bundle.js");
  return bundleJob(jobFile, workdir);
}
