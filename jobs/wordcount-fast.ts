import { countWords, defineJob, lines, sum, tsv } from "sheaf";

/**
 * The word count of wordcount.ts on the fast path: `lines({ raw: true })` hands `mapBatch` the
 * bytes of many lines at once, and `countWords` counts them without a string per word, emitting
 * each distinct word of the batch once. Same output, byte for byte, on ASCII text.
 */
export default defineJob({
  name: "wordcount-fast",
  input: lines({ raw: true }),
  mapBatch(chunk, emit) { // a Uint8Array: lines({ raw: true }) types it
    countWords(chunk, emit);
  },
  combine: (_word, counts: Iterable<number>) => sum(counts),
  reduce: (_word, counts: Iterable<number>) => sum(counts),
  output: tsv(),
});
