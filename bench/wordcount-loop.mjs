// The "same logic, hand-run" baseline of target 1: jobs/wordcount.ts's map and combine/reduce, with
// no engine. `node bench/wordcount-loop.mjs <input> <output.tsv> [--threads N]`
//
// Reads the file in 16 MiB chunks, decodes each (up to its last newline; the rest is carried over) as
// UTF-8 into a string, splits it into lines, and for each line runs the job's map body,
// `line.toLowerCase().match(/[a-z0-9]+/g)`, adding 1 per word to a Map (the combine and reduce,
// summing, done in place). Writes `word\tcount` lines.
//
// With --threads N the file is cut into N ranges at newline boundaries, as scanner.mjs cuts it: the
// main thread counts the first and N - 1 worker threads the others, each into a Map of its own,
// sent back as [word, count] pairs and summed. Not a target's baseline: a diagnostic of what a
// second thread gives this very logic on this machine (the ceiling for the engine's -t 2 / -t 1).
import { readSync, writeFileSync } from "node:fs";
import { overRanges } from "./thread-ranges.mjs";

const CHUNK = 16 << 20;

function map(counts, line) {
  for (const w of line.toLowerCase().match(/[a-z0-9]+/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
}

/** Counts the words of the whole lines in the file bytes [from, to). */
function countRange(fd, from, to) {
  const counts = new Map();
  let buf = Buffer.allocUnsafe(CHUNK);
  let carry = 0; // bytes of an unfinished line, moved to the front of buf
  for (let pos = from; ; ) {
    if (carry === buf.length) buf = Buffer.concat([buf], 2 * buf.length); // a line longer than buf
    const n = readSync(fd, buf, carry, Math.min(buf.length - carry, to - pos), pos);
    pos += n;
    const end = carry + n;
    const cut = n === 0 ? end : buf.lastIndexOf(10, end - 1) + 1; // whole lines only, until the end of the range
    if (cut > 0) {
      const lines = buf.toString("utf8", 0, cut).split("\n");
      if (lines.at(-1) === "") lines.pop();
      for (const line of lines) map(counts, line);
    }
    if (n === 0) break;
    carry = buf.copy(buf, 0, cut, end);
  }
  return counts;
}

const ran = await overRanges(new URL(import.meta.url), "node bench/wordcount-loop.mjs <input> <output.tsv> [--threads N]", countRange, (counts) => [[...counts], []]);
if (ran) {
  const { mine: counts, output, others } = ran;
  for (const pairs of others) for (const [w, n] of pairs) counts.set(w, (counts.get(w) ?? 0) + n);

  let out = "";
  for (const [word, n] of counts) out += `${word}\t${n}\n`;
  writeFileSync(output, out);
}
