/**
 * Where in the user's own files a job module failed to load. An artifact is one bundle, so the
 * positions V8 gives (a throw at import time, a syntax error only V8 finds such as an invalid
 * regular expression) are lines of the bundle; the inline source map runner/bundle.ts adds turns them
 * back into `jobs/x.ts:4:13`, the file as bundled (relative to the folder it was bundled from).
 */
import { spawnSync } from "node:child_process";
import { SourceMap } from "node:module";
import { join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The engine's own sources (the public API bundled into every artifact): never the place to blame. */
const ROOT = fileURLToPath(new URL(".", import.meta.url)).replace(/(dist\/)?core\/$/, "");
const ENGINE = [join(ROOT, "core") + sep, join(ROOT, "dist") + sep];

const INLINE_MAP = /\n\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/;

/**
 * `file:line:column` in the user's sources where loading the artifact `copy` (holding `code`) failed
 * with `err`, the job file named as `label` when it is that file; undefined if unknown.
 */
export function loadLocation(err: unknown, code: string, copy: string, label: string): string | undefined {
  const map = sourceMapOf(code);
  if (!map) return undefined;
  for (const at of bundlePositions(err, copy)) {
    const entry = map.findEntry(at.line - 1, at.column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
    if (entry.originalSource === undefined || entry.originalLine === undefined) continue;
    const source = entry.originalSource.replace(/^file:\/\//, "");
    if (ENGINE.some((dir) => resolve(source).startsWith(dir))) continue; // defineJob refusing a field: blame the call, one frame out
    return `${resolve(source) === resolve(label) ? label : source}:${entry.originalLine + 1}:${(entry.originalColumn ?? 0) + 1}`;
  }
  return undefined;
}

/**
 * `stack` with each frame in the artifact `copy` rewritten to the user's source position
 * (`jobs/x.ts:12:7`), through the artifact's inline source map; other frames are left as they are.
 */
export function mapStack(stack: string, code: string, copy: string): string {
  const map = sourceMapOf(code);
  if (!map) return stack;
  return stack.replace(/(?:file:\/\/)?([^\s()]+\.mjs):(\d+):(\d+)/g, (whole, file: string, line: string, column: string) => {
    if (file !== copy && !file.endsWith(copy)) return whole;
    const entry = map.findEntry(Number(line) - 1, Number(column) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
    if (entry.originalSource === undefined || entry.originalLine === undefined) return whole;
    return `${entry.originalSource.replace(/^file:\/\//, "")}:${entry.originalLine + 1}:${(entry.originalColumn ?? 0) + 1}`;
  });
}

function sourceMapOf(code: string): SourceMap | undefined {
  const m = INLINE_MAP.exec(code);
  if (!m) return undefined;
  try {
    return new SourceMap(JSON.parse(Buffer.from(m[1]!, "base64").toString("utf8")));
  } catch {
    return undefined;
  }
}

/** 1-based positions in the bundle: the stack frames inside it, innermost first, else where V8's parser stopped. */
function bundlePositions(err: unknown, copy: string): { line: number; column: number }[] {
  const stack = String((err as { stack?: unknown } | null)?.stack ?? "");
  const frames = [...stack.matchAll(/(?:file:\/\/)?([^\s()]+\.mjs):(\d+):(\d+)/g)]
    .filter((f) => f[1] === copy || f[1]!.endsWith(copy))
    .map((f) => ({ line: Number(f[2]), column: Number(f[3]) }));
  if (frames.length || !(err instanceof SyntaxError)) return frames;
  return parserStop(copy);
}

/**
 * A SyntaxError thrown while Node compiles an ES module carries no position. `node --check` (which
 * parses, never runs) prints it: `<file>:<line>`, the line, then carets under the offending text.
 */
function parserStop(copy: string): { line: number; column: number }[] {
  const r = spawnSync(process.execPath, ["--check", copy], { encoding: "utf8", env: {}, timeout: 10_000 });
  const lines = (r.stderr ?? "").split("\n");
  const i = lines.findIndex((l) => l.replace(/^file:\/\//, "").startsWith(`${copy}:`));
  const head = i < 0 ? undefined : /:(\d+)$/.exec(lines[i]!);
  if (!head) return [];
  const caret = lines[i + 2]?.indexOf("^") ?? -1;
  return [{ line: Number(head[1]), column: caret < 0 ? 1 : caret + 1 }];
}

