/**
 * `countWords(bytes, emit)`: the tokenising helper of the fast path. It scans raw bytes (a batch of
 * `lines({ raw: true })`) without making a string per word: each word's bytes are hashed into a
 * table, counted, and each distinct word of the batch is emitted once with its count. The table
 * lives as long as the thread and keeps each word's string, so a word seen in an earlier batch
 * costs no new string (nor a new string hash in the engine's own table) when it is emitted again.
 * It holds only a cache: everything counted is emitted before the call returns, so checkpoints and
 * retries see exactly what a per-line `map` would have emitted.
 *
 * A word is a maximal run of ASCII letters and digits, lower-cased: for ASCII text, exactly the
 * words of `line.toLowerCase().match(/[a-z0-9]+/g)`. Every other byte (punctuation, whitespace,
 * the bytes of non-ASCII characters) separates words.
 */

/** Emits each distinct word of `bytes` with the number of times it occurs. */
export function countWords(bytes: Uint8Array, emit: (word: string, count: number) => void): void {
  (table ??= new WordTable()).count(bytes, emit);
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** Past these, the cache starts over (its strings and bytes would otherwise grow with the vocabulary). */
const MAX_WORDS = 1 << 22;
const MAX_ARENA = 64 << 20;

/** Lower-cased byte class: 0 for a separator, else the byte as it is counted. */
const CLASS = new Uint8Array(256);
for (let c = 48; c <= 57; c++) CLASS[c] = c;
for (let c = 97; c <= 122; c++) CLASS[c] = c;
for (let c = 65; c <= 90; c++) CLASS[c] = c + 32;

let table: WordTable | undefined;

class WordTable {
  private mask = (1 << 16) - 1;
  /** Open addressing: slot → word index + 1 (0 is empty). */
  private slots = new Int32Array(1 << 16);
  private hashes = new Int32Array(1 << 15);
  private starts = new Int32Array(1 << 15);
  private lengths = new Int32Array(1 << 15);
  /** Occurrences in the batch being counted. */
  private counts = new Int32Array(1 << 15);
  private strings: (string | undefined)[] = [];
  private words = 0;
  /** The words' lower-cased bytes, back to back. */
  private arena = Buffer.allocUnsafe(1 << 20);
  private arenaUsed = 0;
  /** Words counted in this batch, in first-seen order. */
  private touched = new Int32Array(1 << 15);
  private nTouched = 0;

  count(bytes: Uint8Array, emit: (word: string, count: number) => void): void {
    const n = bytes.length;
    let i = 0;
    while (i < n) {
      // Skip separators, then hash the word's lower-cased bytes.
      while (i < n && CLASS[bytes[i]!] === 0) i++;
      if (i >= n) break;
      const start = i;
      let h = FNV_OFFSET;
      let c: number;
      while (i < n && (c = CLASS[bytes[i]!]!) !== 0) {
        h = Math.imul(h ^ c, FNV_PRIME);
        i++;
      }
      this.add(bytes, start, i, h | 0);
    }
    this.flush(emit);
  }

  private add(bytes: Uint8Array, start: number, end: number, h: number): void {
    const len = end - start;
    let slot = h & this.mask;
    for (;;) {
      const w = this.slots[slot]!;
      if (w === 0) break;
      const word = w - 1;
      if (this.hashes[word] === h && this.lengths[word] === len && this.same(bytes, start, len, this.starts[word]!)) {
        const seen = this.counts[word]!;
        this.counts[word] = seen + 1;
        if (seen === 0) this.touch(word);
        return;
      }
      slot = (slot + 1) & this.mask;
    }
    const word = this.insert(bytes, start, len, h, slot);
    this.counts[word] = 1;
    this.touch(word);
  }

  private same(bytes: Uint8Array, start: number, len: number, at: number): boolean {
    const arena = this.arena;
    for (let k = 0; k < len; k++) if (CLASS[bytes[start + k]!] !== arena[at + k]) return false;
    return true;
  }

  private insert(bytes: Uint8Array, start: number, len: number, h: number, slot: number): number {
    if (this.arenaUsed + len > this.arena.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.arena.length * 2, this.arenaUsed + len));
      this.arena.copy(bigger, 0, 0, this.arenaUsed);
      this.arena = bigger;
    }
    const at = this.arenaUsed;
    for (let k = 0; k < len; k++) this.arena[at + k] = CLASS[bytes[start + k]!]!;
    this.arenaUsed += len;
    const word = this.words++;
    if (word === this.hashes.length) this.growWords();
    this.hashes[word] = h;
    this.starts[word] = at;
    this.lengths[word] = len;
    this.slots[slot] = word + 1;
    if (this.words * 2 > this.slots.length) this.rehash();
    return word;
  }

  private touch(word: number): void {
    if (this.nTouched === this.touched.length) {
      const bigger = new Int32Array(this.touched.length * 2);
      bigger.set(this.touched);
      this.touched = bigger;
    }
    this.touched[this.nTouched++] = word;
  }

  private flush(emit: (word: string, count: number) => void): void {
    const { touched, counts, strings } = this;
    const n = this.nTouched;
    this.nTouched = 0;
    for (let t = 0; t < n; t++) {
      const word = touched[t]!;
      const s = (strings[word] ??= this.arena.toString("latin1", this.starts[word]!, this.starts[word]! + this.lengths[word]!));
      const count = counts[word]!;
      counts[word] = 0;
      emit(s, count);
    }
    if (this.words > MAX_WORDS || this.arenaUsed > MAX_ARENA) table = undefined;
  }

  private growWords(): void {
    const grow = (a: Int32Array) => {
      const b = new Int32Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.hashes = grow(this.hashes);
    this.starts = grow(this.starts);
    this.lengths = grow(this.lengths);
    this.counts = grow(this.counts);
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let word = 0; word < this.words; word++) {
      let slot = this.hashes[word]! & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = word + 1;
    }
    this.slots = slots;
    this.mask = mask;
  }
}
