/**
 * core/formats/arrow-lib.ts: the engine's one copy of apache-arrow (its single-file build). Checked
 * against the ES module build as the oracle: the same names, and bytes one writes the other reads.
 * And no engine module takes apache-arrow values from anywhere else: a second copy in a thread
 * would load 150 more files and fail `instanceof` against the first.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import * as esm from "apache-arrow";
import { describe, expect, it } from "vitest";
import * as lib from "../../core/formats/arrow-lib.js";

const ROOT = resolve(import.meta.dirname, "../..");

describe("arrow-lib", () => {
  it("exports what the ES modules export, for every name the engine takes", () => {
    for (const [name, value] of Object.entries(lib)) {
      expect(typeof value, name).toBe(typeof (esm as Record<string, unknown>)[name]);
    }
    expect(lib.Type.Utf8).toBe(esm.Type.Utf8);
    expect(lib.TimeUnit.MICROSECOND).toBe(esm.TimeUnit.MICROSECOND);
  });

  it("reads what the ES modules write, and the other way round", () => {
    const table = esm.tableFromArrays({ id: Int32Array.from([1, 2, 3]), name: ["a", null, "c"] });
    const back = lib.tableFromIPC(esm.tableToIPC(table, "file"));
    expect(back.numRows).toBe(3);
    expect(back.getChild("name")!.toArray()).toEqual(["a", null, "c"]);
    const again = esm.tableFromIPC(lib.tableToIPC(back, "stream"));
    expect([...again.getChild("id")!]).toEqual([1, 2, 3]);
  });

  it("is the only engine module that takes values from apache-arrow", () => {
    const wrong: string[] = [];
    for (const dir of ["core", "engine", "worker", "runner", "cli", "coordinator"]) {
      for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })) {
        if (!e.isFile() || !/\.(ts|mts|cts)$/.test(e.name) || e.name.endsWith(".d.ts")) continue;
        const file = relative(ROOT, join(e.parentPath, e.name));
        if (file === "core/formats/arrow-lib.ts") continue;
        const text = readFileSync(join(ROOT, file), "utf8");
        // `import type {…}` is erased; `import { a, type B }` is not.
        for (const m of text.matchAll(/^\s*(import|export)(\s+type)?\s[^;]*?from\s+["']apache-arrow["']|import\(\s*["']apache-arrow["']\s*\)/gm)) {
          if (!m[2]) wrong.push(`${file}: ${m[0].trim().replace(/\s+/g, " ")}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
