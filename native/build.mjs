// Compiles native/exchange.c into dist/native/exchange.node with the system's C compiler and Node's
// own headers (no node-gyp). Optional: where it cannot be built (no compiler, not Linux), the engine
// swaps an output folder with two renames instead (core/exchange.ts), and this says so in one line.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist/native/exchange.node");
const include = join(dirname(process.execPath), "../include/node");
if (process.platform !== "linux") process.exit(0);
try {
  if (!existsSync(join(include, "node_api.h"))) throw new Error(`no Node headers in ${include}`);
  mkdirSync(dirname(out), { recursive: true });
  execFileSync(process.env.CC || "cc", ["-O2", "-Wall", "-shared", "-fPIC", `-I${include}`, join(root, "native/exchange.c"), "-o", out], { stdio: ["ignore", "ignore", "pipe"] });
} catch (err) {
  console.warn(`note: native/exchange.c not built (${String(err.message).split("\n")[0]}): output folders are swapped with two renames`);
}
