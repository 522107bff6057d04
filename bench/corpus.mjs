// A deterministic Zipf-distributed ASCII text corpus, generated in fixed-size buffers streamed to disk.
import { closeSync, existsSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";

const VERSION = 2; // bump when the generator's output changes, so cached corpora are regenerated
const MAX_WORD = 16;
const MAX_LINE = 15 * (MAX_WORD + 2) + 1;
const PUNCT = [44, 44, 44, 59, 58, 33, 63]; // , , , ; : ! ?

/** sfc32 (a small, fast, seedable PRNG): fills `out` with uint32s, advancing `state` (an Int32Array(4)). */
function randomFill(out, state) {
  let a = state[0], b = state[1], c = state[2], d = state[3];
  for (let i = 0; i < out.length; i++) {
    const t = (a + b + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (((c << 21) | (c >>> 11)) + t) | 0;
    out[i] = t;
  }
  state.set([a, b, c, d]);
}

/** A stream of random uint32s from a seed, drawn from a refilled block (no per-number calls). */
export class Random {
  constructor(seed) {
    this.state = Int32Array.of(0x9e3779b9, 0x243f6a88, 0xb7e15162, seed);
    this.block = new Uint32Array(1 << 16);
    randomFill(this.block, this.state); // discard the first block: it mixes the seed in
    this.refill();
  }
  refill() {
    randomFill(this.block, this.state);
    this.i = 0;
  }
  next() {
    if (this.i === this.block.length) this.refill();
    return this.block[this.i++];
  }
  /** In [0, 1). */
  float() {
    return this.next() / 2 ** 32;
  }
}

/** `n` distinct lower-case words (2% numbers); more frequent ranks tend to be shorter. */
function vocabulary(n, random) {
  const letters = "etaoinshrdlcumwfgypbvkjxqz";
  const words = new Set();
  while (words.size < n) {
    if (random.float() < 0.02) {
      words.add(String(random.next() % 10 ** (1 + (random.next() % 5))));
      continue;
    }
    const len = Math.min(MAX_WORD, 1 + Math.floor(Math.log2(words.size + 2) * 0.6 + random.float() * 5));
    let w = "";
    for (let i = 0; i < len; i++) w += letters[Math.floor(random.float() ** 1.5 * 26)];
    words.add(w);
  }
  return [...words];
}

/**
 * Zipf with exponent 1 over ranks 0..n-1 by inverting the continuous CDF ln(1+x)/ln(1+n), so
 * P(k) = ln((k+2)/(k+1)) / ln(n+1) ≈ 1/((k+1.5) ln n). exp(u ln(n+1)) for a 32-bit u is a product
 * of three small (L1-resident) tables, indexed by 11, 11 and 10 of its bits: Math.exp is slow.
 */
function zipfTables(n) {
  const table = (bits, shift) =>
    Float64Array.from({ length: 1 << bits }, (_, i) => Math.exp(((i * 2 ** shift) / 2 ** 32) * Math.log(n + 1)));
  return [table(11, 21), table(11, 10), table(10, 0)];
}

/** Appends whole lines to `buf` until `want` bytes or its end; returns the byte count. Reads the
 * random block directly (no call per number) and hands its position back to `random`. */
function fillLines(buf, want, text, start, [hi, mid, lo], random) {
  const limit = Math.min(want, buf.length - MAX_LINE);
  const rnd = random.block, safe = rnd.length - 3 * 16;
  let pos = 0, r = random.i;
  while (pos < limit) {
    if (r > safe) {
      random.refill();
      r = 0;
    }
    const n = 10 + (rnd[r++] % 6);
    for (let i = 0; i < n; i++) {
      const u = rnd[r++];
      const k = Math.floor(hi[u >>> 21] * mid[(u >>> 10) & 2047] * lo[u & 1023]) - 1;
      let j = start[k];
      const end = start[k + 1];
      if (i === 0 && text[j] >= 97) buf[pos++] = text[j++] - 32; // capitalise the line's first word
      while (j < end) buf[pos++] = text[j++];
      if (i === n - 1) buf[pos++] = 46; // .
      else {
        const p = rnd[r++];
        if (p < 0.06 * 2 ** 32) buf[pos++] = PUNCT[p % PUNCT.length];
        buf[pos++] = 32;
      }
    }
    buf[pos++] = 10;
  }
  random.i = r;
  return pos;
}

function writeAll(fd, buf, length) {
  for (let off = 0; off < length; ) off += writeSync(fd, buf, off, length - off);
}

export function corpusPath(dir, bytes, seed) {
  return `${dir}/zipf-${bytes}-seed${seed}-v${VERSION}.txt`;
}

/**
 * Writes about `bytes` bytes of text (whole lines: up to a line past the size) to `path`, unless
 * it exists. Lines have 10-15 words from a `vocab`-word vocabulary; each line's first word is
 * capitalised and some words carry punctuation, so a tokeniser must lower-case and split. ASCII only.
 */
export function ensureCorpus(path, { bytes, seed = 42, vocab = 100_000 }) {
  if (existsSync(path)) return false;
  mkdirSync(dirname(path), { recursive: true });
  const random = new Random(seed);
  const words = vocabulary(vocab, random);
  const text = Buffer.from(words.join(""), "latin1"); // every word's bytes, back to back
  const start = new Int32Array(vocab + 1);
  for (let k = 0; k < vocab; k++) start[k + 1] = start[k] + words[k].length;
  const zipf = zipfTables(vocab);
  const buf = new Uint8Array(8 << 20);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  for (let written = 0; written < bytes; ) {
    const n = fillLines(buf, bytes - written, text, start, zipf, random);
    writeAll(fd, buf, n);
    written += n;
  }
  closeSync(fd);
  renameSync(tmp, path);
  return true;
}
