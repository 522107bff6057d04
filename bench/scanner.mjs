// The baseline: a tuned single-thread word count. `node bench/scanner.mjs <input> <output.tsv>`
// Words are runs of [a-z0-9] after lower-casing ASCII letters; every other byte separates words
// (for ASCII text, the same rule as jobs/wordcount.ts). Writes `word\tcount` lines.
import { closeSync, openSync, readSync, writeFileSync } from "node:fs";

const CHUNK = 16 << 20;

/** Word -> index into `counts`: one Map lookup per word in the common (already seen) case. */
const ids = new Map();
let counts = new Float64Array(1 << 17);

/** Lower-cases and counts the words in buf[0, end); returns where an unfinished last word starts. */
function scan(buf, end, last) {
  let start = -1;
  for (let i = 0; i < end; i++) {
    let c = buf[i];
    if (c >= 65 && c <= 90) buf[i] = c += 32;
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) {
      if (start < 0) start = i;
    } else if (start >= 0) {
      count(buf.latin1Slice(start, i));
      start = -1;
    }
  }
  if (start < 0) return end;
  if (last) count(buf.latin1Slice(start, end));
  return last ? end : start;
}

function count(word) {
  let id = ids.get(word);
  if (id === undefined) {
    id = ids.size;
    ids.set(word, id);
    if (id === counts.length) {
      const grown = new Float64Array(2 * id);
      grown.set(counts);
      counts = grown;
    }
  }
  counts[id]++;
}

const [input, output] = process.argv.slice(2);
const fd = openSync(input, "r");
let buf = Buffer.allocUnsafe(CHUNK);
let carry = 0; // bytes of an unfinished word, moved to the front of buf
for (;;) {
  if (carry === buf.length) buf = Buffer.concat([buf], 2 * buf.length); // a word longer than buf
  const n = readSync(fd, buf, carry, buf.length - carry, null);
  const end = carry + n;
  const rest = scan(buf, end, n === 0);
  if (n === 0) break;
  carry = buf.copy(buf, 0, rest, end);
}
closeSync(fd);

let out = "";
for (const [word, id] of ids) out += `${word}\t${counts[id]}\n`;
writeFileSync(output, out);
