import { defineJob, lines } from "sheaf";

/**
 * TeraSort: sorts 100-byte records (a 10-byte key, then the rest of the line) into one total order
 * across the part files: `partitioner: "range"` samples the keys while planning and gives each
 * reduce task a key range, so `cat part-*` is sorted byte for byte (as `LC_ALL=C sort` sorts).
 */
export default defineJob({
  name: "terasort",
  input: lines(),
  map(line: string, emit) {
    emit(line.slice(0, 10), line.slice(10));
  },
  // Records that share a key come out in byte order too, as sort would give them.
  reduce: (key: string, rests: Iterable<string>) => {
    let first: string | undefined;
    let all: string[] | undefined;
    for (const rest of rests) {
      if (first === undefined) first = rest;
      else (all ??= [first]).push(rest);
    }
    if (!all) return key + first;
    return all.sort().map((rest) => key + rest).join("\n");
  },
  partitioner: "range",
  output: lines(),
});
