/** Merges sorted runs (spills of one map task) partition by partition into one run file. */
import { decodeFrom, Grouper, Merger } from "../core/shuffle/merge.js";
import { RunReader } from "../core/shuffle/run-reader.js";
import { RunWriter } from "../core/shuffle/run-writer.js";
import type { Segment } from "../core/shuffle/segment.js";
import type { Key } from "../core/api/types.js";

export type { RunFile } from "../core/security/messages.js";
import type { RunFile } from "../core/security/messages.js";

/** `encodedKey` is the key's encoding when the caller has it (a string key folded in place has none yet). */
export type Combiner = (key: Key, values: Iterable<unknown>, encodedKey?: string) => unknown;

/** Runs are merged in order, so equal keys keep run order: the merge is deterministic. */
export function mergeRuns(runs: readonly RunFile[], partitions: number, outPath: string, combine?: Combiner): RunFile {
  const writer = new RunWriter(outPath);
  const segments: RunFile["segments"] = [];
  try {
    for (let p = 0; p < partitions; p++) {
      writer.beginSegment();
      const merger = new Merger(runs.map((r) => new RunReader({ path: r.path, ...r.segments[p]! })));
      try {
        const groups = new Grouper(merger);
        for (let ek = groups.nextKey(); ek !== undefined; ek = groups.nextKey()) {
          if (combine) writer.write(ek, combine(decodeFrom(merger, ek), groups.values(), ek));
          else for (const raw of groups.rawValues()) writer.writeRaw(ek, raw);
        }
      } finally {
        merger.close();
      }
      segments.push(writer.endSegment());
    }
    writer.close();
  } catch (err) {
    writer.abandon();
    throw err;
  }
  return { path: outPath, segments };
}
