// Reading and checking benchmark outputs: word counts (a TSV file, or a sheaf output folder's part files).
import { readdirSync, readFileSync } from "node:fs";
import { fail } from "./etl-common.mjs";

/** Parses `word\tcount` lines (a file, or every part file of a sheaf output folder) into a Map. */
export function readCounts(output) {
  const files = output.endsWith(".tsv") ? [output] : partFiles(output);
  const counts = new Map();
  for (const file of files) {
    for (const line of readFileSync(file, "latin1").split("\n")) {
      if (!line) continue;
      const tab = line.lastIndexOf("\t");
      const word = line.slice(0, tab), n = Number(line.slice(tab + 1));
      if (tab < 0 || !Number.isInteger(n) || counts.has(word)) fail(`${file}: bad or repeated line ${JSON.stringify(line)}`);
      counts.set(word, n);
    }
  }
  return counts;
}

export function partFiles(folder) {
  const index = (f) => Number(/^part-(\d+)/.exec(f)[1]);
  return readdirSync(folder).filter((f) => /^part-\d+/.test(f)).sort((a, b) => index(a) - index(b)).map((f) => `${folder}/${f}`);
}

/** Fails unless every word count output equals the reference's (the first), word for word and count for count. */
export function checkCounts([reference, ...others]) {
  if (!reference) return;
  const expected = readCounts(reference.output);
  if (expected.size === 0) fail(`${reference.name} counted no words`);
  for (const c of others) {
    const got = readCounts(c.output);
    const diffs = [...new Set([...expected.keys(), ...got.keys()])].filter((w) => expected.get(w) !== got.get(w));
    if (diffs.length) {
      const sample = diffs.slice(0, 5).map((w) => `${JSON.stringify(w)}: ${got.get(w)} vs ${expected.get(w)}`).join(", ");
      fail(`${c.name} counts differ from ${reference.name} for ${diffs.length} words (${sample})`);
    }
  }
}
