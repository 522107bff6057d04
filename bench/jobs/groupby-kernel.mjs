// The per-batch aggregation of the ETL group-by benchmark (bench/etl-groupby.mjs), shared by the
// hand-written baseline (bench/etl-groupby-loop.mjs) and the Sheaf fast-path job
// (bench/jobs/groupby-batch.ts), so both run the very same inner loop over an apache-arrow batch.
//
// The loop reads the columns' raw buffers (Utf8 offsets and bytes, Int32Array, Float64Array) and
// never materialises a string per row: the country's bytes are interned to a small integer (an
// open-addressing table of byte strings), and each (country id, category) pair has one
// accumulator. (Decoding a string per row and looking it up in a Map made the loop twice as slow.)

/** Byte strings ↔ dense ids; `names[id]` is the decoded string. */
export class Interner {
  names = [];
  #bytes = [];
  #table = new Int32Array(1024).fill(-1);

  /** The id of bytes[start, end), assigning the next one to a string not seen before. */
  id(bytes, start, end) {
    let h = 0x811c9dc5;
    for (let j = start; j < end; j++) h = Math.imul(h ^ bytes[j], 16777619);
    const mask = this.#table.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const id = this.#table[slot];
      if (id === -1) return this.#add(bytes, start, end, slot);
      const known = this.#bytes[id];
      if (known.length !== end - start) continue;
      let j = 0;
      while (j < known.length && known[j] === bytes[start + j]) j++;
      if (j === known.length) return id;
    }
  }

  #add(bytes, start, end, slot) {
    const id = this.names.length;
    const own = bytes.slice(start, end);
    this.#bytes.push(own);
    this.names.push(Buffer.from(own.buffer, own.byteOffset, own.byteLength).toString("utf8"));
    this.#table[slot] = id;
    if (this.names.length * 2 > this.#table.length) this.#grow();
    return id;
  }

  #grow() {
    const table = new Int32Array(this.#table.length * 2).fill(-1);
    const mask = table.length - 1;
    for (let id = 0; id < this.#bytes.length; id++) {
      const b = this.#bytes[id];
      let h = 0x811c9dc5;
      for (let j = 0; j < b.length; j++) h = Math.imul(h ^ b[j], 16777619);
      let slot = h & mask;
      while (table[slot] !== -1) slot = (slot + 1) & mask;
      table[slot] = id;
    }
    this.#table = table;
  }
}

/** The one chunk of a batch's column, checked to be of the expected Arrow type and null-free. */
function column(batch, name, typeName) {
  const vector = batch.getChild(name);
  if (!vector) throw new Error(`no column ${name}`);
  const data = vector.data[0];
  if (vector.data.length !== 1 || String(data.type) !== typeName) throw new Error(`column ${name}: expected one ${typeName} chunk, got ${vector.data.length} of ${data.type}`);
  if (data.nullCount > 0) throw new Error(`column ${name} has nulls; the benchmark's data has none`);
  return data;
}

/**
 * Adds a RecordBatch's rows to `groups`: `groups[countryId]` is a Map from category to
 * `{ n, sum }` of amount. Country ids come from `interner`.
 */
export function aggregateBatch(batch, interner, groups) {
  const country = column(batch, "country", "Utf8");
  const offsets = country.valueOffsets, bytes = country.values;
  const category = column(batch, "category", "Int32").values;
  const amount = column(batch, "amount", "Float64").values;
  const n = batch.numRows;
  // Two passes: the interning pass is tight, and the second one touches only small arrays.
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = interner.id(bytes, offsets[i], offsets[i + 1]);
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    const byCategory = groups[id] ?? (groups[id] = new Map());
    const c = category[i];
    let acc = byCategory.get(c);
    if (acc === undefined) byCategory.set(c, (acc = { n: 0, sum: 0 }));
    acc.n++;
    acc.sum += amount[i];
  }
}

/** Calls f(country, category, acc) for every group. */
export function forEachGroup(interner, groups, f) {
  for (let id = 0; id < groups.length; id++) {
    const byCategory = groups[id];
    if (byCategory) for (const [category, acc] of byCategory) f(interner.names[id], category, acc);
  }
}

/** Merges partial aggregates ({ n, sum }), for combine and reduce. */
export function mergeAccs(partials) {
  let n = 0, sum = 0;
  for (const p of partials) {
    n += p.n;
    sum += p.sum;
  }
  return { n, sum };
}
