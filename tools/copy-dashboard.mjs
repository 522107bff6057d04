// Copies the dashboard's static files (dashboard/static: HTML, JS, CSS, no build step) beside the
// compiled server: tsc emits only what it compiles, and dashboard/server.ts serves the folder
// relative to itself.
import { cpSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
cpSync(join(root, "dashboard/static"), join(root, "dist/dashboard/static"), { recursive: true });
