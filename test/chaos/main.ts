/**
 * `npm run chaos -- --seed N --minutes M [--grace S] [--keep]`: the seeded fault-injection runner.
 * Prints the log as it goes and a summary at the end (and a last line `CHAOS-SUMMARY {json}`);
 * exits 1 on any wrong, partial, doubled or lost output or hung run, after printing the seed and
 * the whole fault schedule.
 */
import { runChaos } from "./runner.js";

function option(name: string, fallback?: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) {
    if (fallback === undefined) throw new Error(`--${name} is needed`);
    return fallback;
  }
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} takes a number, not ${process.argv[i + 1]}`);
  return v;
}

const seed = option("seed", Date.now() % 100_000);
const minutes = option("minutes", 2);
const result = await runChaos({ seed, minutes, graceSeconds: option("grace", 180), echo: true, keep: process.argv.includes("--keep") });
console.log(`\n${result.text}`);
console.log(`CHAOS-SUMMARY ${JSON.stringify(result.summary)}`);
process.exit(result.summary.ok ? 0 : 1);
