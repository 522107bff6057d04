// TeraSort-style input for the sort benchmark: `n` deterministic 100-byte records, one per line.
//
//   bytes 0-9    the key: 10 random printable ASCII bytes (space to ~, 95 values; about 6e19 keys,
//                so in practice every key is unique and the order of the keys is the order of the lines)
//   bytes 10-19  the record's number, 10 decimal digits
//   bytes 20-98  filler: 79 upper-case letters (a window of A-Z repeated, shifted by the number)
//   byte  99     \n
//
// Sorting the lines bytewise (`LC_ALL=C sort`) sorts the records by key.
import { closeSync, existsSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { Random } from "./corpus.mjs";

const VERSION = 1; // bump when the generator's output changes
export const RECORD = 100;
const KEY = 10, NUMBER = 10, FILLER = RECORD - KEY - NUMBER - 1;
const PER_BLOCK = 81_920; // records per 8 MB write

export function recordsPath(dir, n, seed) {
  return `${dir}/records-${n}-seed${seed}-v${VERSION}.txt`;
}

/** Writes `n` records to `path` unless it exists; returns true when it generated. */
export function ensureRecords(path, n, seed = 42) {
  if (existsSync(path)) return false;
  mkdirSync(dirname(path), { recursive: true });
  const random = new Random(seed);
  const letters = Buffer.alloc(26 + FILLER);
  for (let i = 0; i < letters.length; i++) letters[i] = 65 + (i % 26);
  const buf = Buffer.allocUnsafe(PER_BLOCK * RECORD);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  for (let first = 0; first < n; first += PER_BLOCK) {
    const count = Math.min(PER_BLOCK, n - first);
    for (let r = 0; r < count; r++) {
      const at = r * RECORD, number = first + r;
      for (let k = 0; k < KEY; k++) buf[at + k] = 32 + (random.next() % 95);
      for (let k = NUMBER - 1, x = number; k >= 0; k--, x = Math.floor(x / 10)) buf[at + KEY + k] = 48 + (x % 10);
      letters.copy(buf, at + KEY + NUMBER, number % 26, (number % 26) + FILLER);
      buf[at + RECORD - 1] = 10;
    }
    for (let off = 0, len = count * RECORD; off < len; ) off += writeSync(fd, buf, off, len - off);
  }
  closeSync(fd);
  renameSync(tmp, path);
  return true;
}
