// Bundles the chaos runner (TypeScript) into dist/chaos/main.mjs with esbuild, dependencies left
// external (resolved from the checkout's node_modules), and runs it with the arguments given.
// `npm run chaos -- --seed N --minutes M` builds Sheaf first, then calls this.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");
// dist/chaos/ is two folders below the checkout, as test/integration/ is: helpers.ts finds the repo from there.
const outfile = join(repo, "dist/chaos/main.mjs");
await build({ entryPoints: [join(repo, "test/chaos/main.ts")], outfile, bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", logLevel: "warning" });
const r = spawnSync(process.execPath, [outfile, ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(r.status ?? 1);
