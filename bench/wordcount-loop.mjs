// The "same logic, hand-run" baseline of target 1: jobs/wordcount.ts's map and combine/reduce, with
// no engine, on one thread. `node bench/wordcount-loop.mjs <input> <output.tsv>`
//
// Reads the file in 16 MiB chunks, decodes each (up to its last newline; the rest is carried over) as
// UTF-8 into a string, splits it into lines, and for each line runs the job's map body,
// `line.toLowerCase().match(/[a-z0-9]+/g)`, adding 1 per word to a Map (the combine and reduce,
// summing, done in place). Writes `word\tcount` lines.
import { closeSync, openSync, readSync, writeFileSync } from "node:fs";

const CHUNK = 16 << 20;
const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node bench/wordcount-loop.mjs <input> <output.tsv>");
  process.exit(2);
}

const counts = new Map();
function map(line) {
  for (const w of line.toLowerCase().match(/[a-z0-9]+/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
}

const fd = openSync(input, "r");
let buf = Buffer.allocUnsafe(CHUNK);
let carry = 0; // bytes of an unfinished line, moved to the front of buf
for (;;) {
  if (carry === buf.length) buf = Buffer.concat([buf], 2 * buf.length); // a line longer than buf
  const n = readSync(fd, buf, carry, buf.length - carry, null);
  const end = carry + n;
  const cut = n === 0 ? end : buf.lastIndexOf(10, end - 1) + 1; // whole lines only, until the end of the file
  if (cut > 0) {
    const lines = buf.toString("utf8", 0, cut).split("\n");
    if (lines.at(-1) === "") lines.pop();
    for (const line of lines) map(line);
  }
  if (n === 0) break;
  carry = buf.copy(buf, 0, cut, end);
}
closeSync(fd);

let out = "";
for (const [word, n] of counts) out += `${word}\t${n}\n`;
writeFileSync(output, out);
