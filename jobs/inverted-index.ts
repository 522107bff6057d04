import { basename } from "node:path";
import { defineJob, lines, tsv } from "sheaf";

/**
 * For each word, the places it occurs: `word<TAB>file:line,file:line,…`, sorted by file then line.
 * Values reach reduce by map task (splits are planned in file, then offset order) and then in the
 * order they were emitted, so they arrive sorted and reduce only joins them.
 */
export default defineJob({
  name: "inverted-index",
  input: lines({ lineNumbers: true }),
  map(line: string, emit, ctx) {
    const words = new Set(line.toLowerCase().match(/[a-z0-9]+/g) ?? []);
    if (words.size === 0) return;
    const place = `${basename(ctx.input!.file)}:${ctx.input!.line}`;
    for (const w of words) emit(w, place);
  },
  reduce(_word, places: Iterable<string>) {
    let out = "";
    for (const p of places) out += out ? "," + p : p;
    return out;
  },
  output: tsv(),
});
