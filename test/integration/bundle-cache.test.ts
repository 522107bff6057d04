/**
 * The bundle cache (runner/bundle-cache.ts), through the built bundler: a job whose files are
 * unchanged is served from the cache; one whose imported file, folder (a file added that changes
 * what an import resolves to) or tsconfig changed is bundled again; a cache folder others may write
 * is not used. The oracle for "bundled again" is the artifact's own code: it holds what the files now say.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { builtBundleJob } from "./helpers.js";

const root = mkdtempSync(join(tmpdir(), "sheaf-bundle-cache-"));
const saved = process.env.SHEAF_CACHE_DIR;
afterAll(() => {
  if (saved === undefined) delete process.env.SHEAF_CACHE_DIR;
  else process.env.SHEAF_CACHE_DIR = saved;
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
let dir: string;
let cache: string;
const workdir = join(root, "work");

/** Files written a minute ago: the cache keeps nothing that changed within a second of a build. */
function write(path: string, text: string): void {
  writeFileSync(path, text);
  const past = new Date(Date.now() - 60_000 - n * 1000);
  utimesSync(path, past, past);
}
/** A folder's mtime set to one fixed past time: settled twice, it reads the same, as if untouched. */
function settle(folder: string): void {
  const past = new Date(Date.UTC(2026, 0, 1, 0, 0, n));
  utimesSync(folder, past, past);
}

const job = (helper = "./helper") => `import { defineJob, lines } from "sheaf";\nimport { tag } from "${helper}";\nexport default defineJob({ name: "cached", input: lines(), map(l, emit) { emit(tag + l, 1); } });\n`;
const code = async (): Promise<string> => readFileSync((await builtBundleJob(join(dir, "job.ts"), workdir)).path, "utf8");
const entries = () => readdirSync(join(cache, "bundles")).filter((f) => f.endsWith(".json"));

beforeEach(() => {
  n++;
  dir = join(root, `job-${n}`);
  cache = join(root, `cache-${n}`);
  mkdirSync(dir);
  process.env.SHEAF_CACHE_DIR = cache;
  write(join(dir, "job.ts"), job());
  write(join(dir, "helper.js"), `export const tag = "js-${n}:";\n`);
  settle(dir);
});

describe("bundle cache", () => {
  it("serves an unchanged job from the cache, and bundles it again when an imported file changes", async () => {
    const first = await code();
    expect(first).toContain(`js-${n}:`);
    expect(entries()).toHaveLength(1);
    // What the cache holds is what the next run gets: marked here, so that a rebuild would show.
    const [entry] = entries();
    const path = join(cache, "bundles", entry!);
    const stored = JSON.parse(readFileSync(path, "utf8")) as { code: string };
    writeFileSync(path, JSON.stringify({ ...stored, code: stored.code + "\n// from the cache\n" }));
    expect(await code()).toContain("// from the cache");

    write(join(dir, "helper.js"), `export const tag = "changed-${n}:";\n`);
    const again = await code();
    expect(again).toContain(`changed-${n}:`);
    expect(again).not.toContain("// from the cache");
  });

  it("bundles again when a file added beside an import changes what it resolves to", async () => {
    expect(await code()).toContain(`js-${n}:`);
    write(join(dir, "helper.ts"), `export const tag: string = "ts-${n}:";\n`); // esbuild prefers .ts to .js
    expect(await code()).toContain(`ts-${n}:`);
  });

  it("bundles again when a tsconfig.json above the job appears", async () => {
    write(join(dir, "job.ts"), job("@lib/helper"));
    write(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { baseUrl: ".", paths: { "@lib/*": ["./*"] } } }));
    settle(dir);
    expect(await code()).toContain(`js-${n}:`);
    mkdirSync(join(dir, "other"));
    write(join(dir, "other", "helper.js"), `export const tag = "other-${n}:";\n`);
    write(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { baseUrl: ".", paths: { "@lib/*": ["./other/*"] } } }));
    settle(dir);
    expect(await code()).toContain(`other-${n}:`);
  });

  it("does not use a cache folder that others may write", async () => {
    mkdirSync(join(cache, "bundles"), { recursive: true });
    chmodSync(join(cache, "bundles"), 0o777);
    expect(await code()).toContain(`js-${n}:`);
    expect(entries()).toEqual([]);
  });
});
