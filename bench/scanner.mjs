// The hand-written word count baseline: a tuned byte-level scanner, no string per word.
//
//   node bench/scanner.mjs <input> <output.tsv> [--threads N]   (N = 1 or more, default 1)
//
// Words are runs of [a-z0-9] after lower-casing ASCII letters; every other byte separates words.
// For ASCII text (the benchmark corpus is ASCII) this is exactly jobs/wordcount.ts's
// `line.toLowerCase().match(/[a-z0-9]+/g)`, since newlines separate words too. Writes `word\tcount` lines.
//
// How: the file is read in 1 MiB chunks into one reused buffer (small enough to stay in the L2 cache
// while it is scanned; a word cut by a chunk's end is carried to the front of the buffer). Each byte
// goes through a 256-entry table (0 = separator, else the lower-cased byte); a word's bytes are hashed
// as they go by (FNV-1a, Math.imul) and looked up (inline, in the scanning loop) in an open-addressing
// table of [hash, entry id] pairs; an entry keeps the word's offset and length in a growable byte
// arena of distinct words (lower-cased) and its count. A word is compared byte by byte only when its
// hash and length match an entry's, and a string is made once per DISTINCT word, when writing the output.
//
// With --threads N the file is cut into N ranges at newline boundaries; the main thread scans the
// first range and N - 1 worker threads the others, each into a table of its own; the workers send
// theirs back (transferred, not copied) and the main thread merges them into its own.
import { readSync, writeFileSync } from "node:fs";
import { overRanges } from "./thread-ranges.mjs";

const CHUNK = 1 << 20;
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/** Byte → its lower-cased self for [A-Za-z0-9], else 0. */
const CLASS = new Uint8Array(256);
for (let c = 48; c <= 57; c++) CLASS[c] = c;
for (let c = 97; c <= 122; c++) CLASS[c] = c;
for (let c = 65; c <= 90; c++) CLASS[c] = c + 32;

/**
 * Distinct words → counts. `slots` is an open-addressing table (linear probing, load at most 1/2) of
 * pairs [hash, entry id + 1] (id + 1 = 0: empty), so a probe reads one cache line; `meta` holds
 * [arena offset, length, count, unused] per entry; `arena` the distinct words' bytes, back to back.
 */
class Table {
  constructor(slots = 1 << 18, entries = 1 << 16, arena = 1 << 20) {
    this.slots = new Int32Array(2 * slots);
    this.mask = slots - 1;
    this.size = 0;
    this.meta = new Int32Array(4 * entries);
    this.arena = new Uint8Array(arena);
    this.used = 0; // bytes of the arena in use
  }

  /**
   * Adds an entry for the word bytes[start, start + len) with `count`, at the free slot pair `s`
   * (lower-casing the bytes through CLASS when `lowerCase`).
   */
  insert(s, hash, bytes, start, len, count, lowerCase) {
    const id = this.size++;
    if (4 * id === this.meta.length) {
      const meta = new Int32Array(2 * this.meta.length);
      meta.set(this.meta);
      this.meta = meta;
    }
    if (this.used + len > this.arena.length) {
      const arena = new Uint8Array(Math.max(2 * this.arena.length, this.used + len));
      arena.set(this.arena.subarray(0, this.used));
      this.arena = arena;
    }
    const arena = this.arena, off = this.used;
    if (lowerCase) for (let k = 0; k < len; k++) arena[off + k] = CLASS[bytes[start + k]];
    else arena.set(bytes.subarray(start, start + len), off);
    this.used += len;
    this.meta[4 * id] = off;
    this.meta[4 * id + 1] = len;
    this.meta[4 * id + 2] = count;
    this.slots[s] = hash;
    this.slots[s + 1] = id + 1;
    if (2 * this.size > this.mask) this.rehash();
  }

  rehash() {
    const old = this.slots, slots = new Int32Array(2 * old.length), mask = old.length - 1;
    for (let s = 0; s < old.length; s += 2) {
      if (old[s + 1] === 0) continue;
      let t = (old[s] & mask) << 1;
      while (slots[t + 1] !== 0) t = (t + 2) & (2 * mask + 1);
      slots[t] = old[s];
      slots[t + 1] = old[s + 1];
    }
    this.slots = slots;
    this.mask = mask;
  }

  /** Adds `count` to the (already lower-case) word bytes[start, start + len) whose hash is `hash`. */
  add(hash, bytes, start, len, count) {
    const slots = this.slots, wrap = 2 * this.mask + 1, meta = this.meta, arena = this.arena;
    let s = (hash & this.mask) << 1;
    for (let e; (e = slots[s + 1]) !== 0; s = (s + 2) & wrap) {
      const m = 4 * (e - 1);
      if (slots[s] !== hash || meta[m + 1] !== len) continue;
      const off = meta[m];
      let k = 0;
      while (k < len && arena[off + k] === bytes[start + k]) k++;
      if (k === len) {
        meta[m + 2] += count;
        return;
      }
    }
    this.insert(s, hash, bytes, start, len, count, false);
  }

  /** The plain parts of the table, to send to another thread (their buffers can be transferred), with each entry's hash. */
  export() {
    const hashes = new Int32Array(this.size);
    for (let s = 0; s < this.slots.length; s += 2) if (this.slots[s + 1] !== 0) hashes[this.slots[s + 1] - 1] = this.slots[s];
    return { hashes, meta: this.meta, arena: this.arena, size: this.size };
  }

  /** Adds every entry of an exported table. */
  merge({ hashes, meta, arena, size }) {
    for (let id = 0; id < size; id++) this.add(hashes[id], arena, meta[4 * id], meta[4 * id + 1], meta[4 * id + 2]);
  }
}

/**
 * Counts the words of buf[0, end) into `table`. Returns where an unfinished word starts (to carry to
 * the next chunk), or `end` when the chunk ends between words; at the end of the range (`last`) a
 * word running to `end` is counted.
 */
function scan(table, buf, end, last) {
  let slots = table.slots, mask = table.mask, arena = table.arena, meta = table.meta;
  let i = 0;
  for (;;) {
    // Skip separators.
    let c = 0;
    while (i < end && (c = CLASS[buf[i]]) === 0) i++;
    if (i >= end) return end;
    // A word: hash its (lower-cased) bytes.
    const start = i;
    let h = FNV_OFFSET;
    do {
      h = Math.imul(h ^ c, FNV_PRIME);
      i++;
    } while (i < end && (c = CLASS[buf[i]]) !== 0);
    if (i >= end && !last) return start;
    const len = i - start;
    let s = (h & mask) << 1;
    for (;;) {
      const e = slots[s + 1];
      if (e === 0) {
        table.insert(s, h, buf, start, len, 1, true);
        slots = table.slots; mask = table.mask; arena = table.arena; meta = table.meta;
        break;
      }
      if (slots[s] === h) {
        const m = (e - 1) << 2;
        if (meta[m + 1] === len) {
          const off = meta[m];
          let k = 0;
          while (k < len && arena[off + k] === CLASS[buf[start + k]]) k++;
          if (k === len) { meta[m + 2]++; break; }
        }
      }
      s = (s + 2) & ((mask << 1) | 1);
    }
  }
}

/** Scans the file bytes [from, to) of `fd` into a new table. */
function scanRange(fd, from, to) {
  const table = new Table();
  let buf = Buffer.allocUnsafe(CHUNK);
  let carry = 0; // bytes of an unfinished word, moved to the front of buf
  for (let pos = from; ; ) {
    if (carry === buf.length) buf = Buffer.concat([buf], 2 * buf.length); // a word longer than buf
    const n = readSync(fd, buf, carry, Math.min(buf.length - carry, to - pos), pos);
    pos += n;
    const end = carry + n, last = n === 0 || pos >= to;
    const rest = scan(table, buf, end, last);
    if (last) break;
    carry = buf.copy(buf, 0, rest, end);
  }
  return table;
}

const ran = await overRanges(new URL(import.meta.url), "node bench/scanner.mjs <input> <output.tsv> [--threads N]", scanRange, (table) => {
  const t = table.export();
  return [t, [t.hashes.buffer, t.meta.buffer, t.arena.buffer]];
});
if (ran) {
  const { mine: table, output, others } = ran;
  for (const other of others) table.merge(other);

  const { arena, meta } = table;
  const text = Buffer.from(arena.buffer, arena.byteOffset, table.used);
  let out = "";
  for (let m = 0; m < 4 * table.size; m += 4) out += `${text.latin1Slice(meta[m], meta[m] + meta[m + 1])}\t${meta[m + 2] >>> 0}\n`;
  writeFileSync(output, out, "latin1");
}
