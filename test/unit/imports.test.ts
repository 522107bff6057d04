/**
 * The layering the README's layout table promises, checked on every `npm test`: imports flow
 * toward `core/`; the engine imports only `core/`; `coordinator/` and `worker/` never import each other; example jobs import only
 * the public API (and each other: a pipeline module composes job modules); the dashboard reads
 * through core and the runner API's status and actions, and only the CLI starts it; and no module imports itself through a circle (runtime imports: a circle through
 * `import type` alone is erased by the compiler, but is reported too, so none creeps in).
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const FOLDERS = ["core", "engine", "coordinator", "worker", "runner", "cli", "dashboard", "jobs"];

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts|cts)$/.test(e.name) && !e.name.endsWith(".d.ts"))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** Each file's relative imports (and re-exports), resolved to repository paths; and its bare ones. */
function importsOf(file: string): { local: string[]; bare: string[] } {
  const text = readFileSync(join(ROOT, file), "utf8");
  const local: string[] = [];
  const bare: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|^\s*import\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gm)) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    if (!spec.startsWith(".")) {
      bare.push(spec);
      continue;
    }
    local.push(relative(ROOT, resolve(ROOT, dirname(file), spec)).replace(/\.(m|c)?js$/, ".$1ts"));
  }
  return { local, bare };
}

const files = FOLDERS.flatMap(sources);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const top = (f: string) => f.split("/")[0]!;

describe("import boundaries", () => {
  it("finds the sources", () => {
    expect(files.length).toBeGreaterThan(100);
  });

  it("core imports nothing outside core", () => {
    const wrong = files.filter((f) => top(f) === "core").flatMap((f) => graph.get(f)!.local.filter((t) => top(t) !== "core").map((t) => `${f} → ${t}`));
    expect(wrong).toEqual([]);
  });

  it("the engine imports only core (it serves both transports)", () => {
    const wrong = files.filter((f) => top(f) === "engine").flatMap((f) => graph.get(f)!.local.filter((t) => !["engine", "core"].includes(top(t))).map((t) => `${f} → ${t}`));
    expect(wrong).toEqual([]);
  });

  it("the runner API never imports the command line (the CLI is a parser over it)", () => {
    const wrong = files.filter((f) => top(f) === "runner").flatMap((f) => graph.get(f)!.local.filter((t) => top(t) === "cli").map((t) => `${f} → ${t}`));
    expect(wrong).toEqual([]);
  });

  it("coordinator and worker never import each other", () => {
    const wrong = files.flatMap((f) =>
      graph.get(f)!.local.filter((t) => (top(f) === "coordinator" && top(t) === "worker") || (top(f) === "worker" && top(t) === "coordinator")).map((t) => `${f} → ${t}`));
    expect(wrong).toEqual([]);
  });

  it("the dashboard imports only core and the runner (status and actions as the CLI has them), and only the CLI imports it", () => {
    const wrong = files.filter((f) => top(f) === "dashboard").flatMap((f) => graph.get(f)!.local.filter((t) => !["dashboard", "core", "runner"].includes(top(t))).map((t) => `${f} → ${t}`));
    const into = files.filter((f) => !["dashboard", "cli"].includes(top(f))).flatMap((f) => graph.get(f)!.local.filter((t) => top(t) === "dashboard").map((t) => `${f} → ${t}`));
    expect([...wrong, ...into]).toEqual([]);
  });

  it("example jobs import only the public API (sheaf) and Node's modules", () => {
    const wrong = files.filter((f) => top(f) === "jobs").flatMap((f) => {
      const { local, bare } = graph.get(f)!;
      return [...local.filter((t) => top(t) !== "jobs"), ...bare.filter((b) => b !== "sheaf" && !b.startsWith("node:"))].map((t) => `${f} → ${t}`);
    });
    expect(wrong).toEqual([]);
  });

  it("no import circle", () => {
    const circles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const path: string[] = [];
    const visit = (f: string) => {
      state.set(f, "open");
      path.push(f);
      for (const t of graph.get(f)?.local ?? []) {
        if (!graph.has(t)) continue;
        if (state.get(t) === "open") circles.push([...path.slice(path.indexOf(t)), t].join(" → "));
        else if (!state.has(t)) visit(t);
      }
      path.pop();
      state.set(f, "done");
    };
    for (const f of files) if (!state.has(f)) visit(f);
    expect(circles).toEqual([]);
  });
});
