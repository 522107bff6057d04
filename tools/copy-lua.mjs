// Copies the cluster's Lua scripts (core/cluster/state/lua) beside the compiled code: tsc emits only
// JavaScript, and scripts.ts reads each .lua file relative to itself.
import { cpSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
cpSync(join(root, "core/cluster/state/lua"), join(root, "dist/core/cluster/state/lua"), { recursive: true });
