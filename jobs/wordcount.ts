import { defineJob, lines, sum, tsv } from "sheaf";

/** Counts each word (lower-cased runs of letters and digits) across the input. */
export default defineJob({
  name: "wordcount",
  input: lines(),
  map(line: string, emit) {
    for (const w of line.toLowerCase().match(/[a-z0-9]+/g) ?? []) emit(w, 1);
  },
  combine: (_word, counts: Iterable<number>) => sum(counts),
  reduce: (_word, counts: Iterable<number>) => sum(counts),
  output: tsv(),
});
