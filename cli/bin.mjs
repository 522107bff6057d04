#!/usr/bin/env node
// The `sheaf` executable: runs the compiled CLI (built by `npm ci` / `npm run build`).
import { existsSync } from "node:fs";

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("sheaf: the CLI is not built; run `npm run build` in the sheaf checkout\n");
  process.exit(1);
}
const { main: run } = await import(main.href);
process.exitCode = await run(process.argv);
