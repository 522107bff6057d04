/**
 * A plan's splits in columns: typed arrays of file index, start, end and first line, and the rare
 * other fields (a Parquet split's unit and bytes, a table's key range) by split index. The driver
 * makes split i's object only when map task i is attempted, so a coordinator holding a job of
 * 100,000 one-byte splits holds about 3 MB of numbers instead of 100,000 task objects (~25 MB live,
 * and a heap V8 let grow to several times that between collections).
 */
import { SheafError } from "../core/errors.js";
import type { SplitColumns } from "../core/security/messages.js";
import type { Split } from "../core/splits.js";

type Rest = Omit<Split, "file" | "start" | "end">;

export class SplitTable {
  private constructor(
    private readonly files: readonly string[],
    private readonly file: Uint32Array,
    private readonly start: Float64Array,
    private readonly end: Float64Array,
    /** 0 where the split has no first line. */
    private readonly firstLine: Float64Array | undefined,
    private readonly rest: ReadonlyMap<number, Rest>,
  ) {}

  static from(splits: readonly Split[]): SplitTable {
    const n = splits.length;
    const files: string[] = [];
    const fileIndex = new Map<string, number>();
    const file = new Uint32Array(n);
    const start = new Float64Array(n);
    const end = new Float64Array(n);
    const firstLine = splits.some((s) => s.firstLine !== undefined) ? new Float64Array(n) : undefined;
    const rest = new Map<number, Rest>();
    splits.forEach(({ file: path, start: s, end: e, firstLine: line, ...other }, i) => {
      let f = fileIndex.get(path);
      if (f === undefined) fileIndex.set(path, (f = files.push(path) - 1));
      file[i] = f;
      start[i] = s;
      end[i] = e;
      if (firstLine && line !== undefined) firstLine[i] = line;
      if (Object.keys(other).length > 0) rest.set(i, other);
    });
    return new SplitTable(files, file, start, end, firstLine, rest);
  }

  /** From its stored columns (checked against their schema): refused unless they describe one split each. */
  static fromColumns(c: SplitColumns): SplitTable {
    const n = c.file.length;
    const bad = (why: string) => new SheafError("BAD_MESSAGE", `plan's splits: ${why}`);
    if (c.start.length !== n || c.end.length !== n || (c.firstLine && c.firstLine.length !== n)) throw bad("columns of different lengths");
    if (c.file.some((f) => f >= c.files.length)) throw bad("a split names no listed file");
    const rest = new Map<number, Rest>();
    for (const [key, other] of Object.entries(c.rest ?? {})) {
      const i = Number(key);
      if (i >= n) throw bad(`split ${key} of ${n}`);
      rest.set(i, other);
    }
    return new SplitTable(c.files, Uint32Array.from(c.file), Float64Array.from(c.start), Float64Array.from(c.end), c.firstLine && Float64Array.from(c.firstLine), rest);
  }

  get length(): number {
    return this.file.length;
  }

  /** Every file a split names, once each. */
  get paths(): readonly string[] {
    return this.files;
  }

  /** Split i as a fresh object (a task message of its own). */
  at(i: number): Split {
    const split: Split = { file: this.files[this.file[i]!]!, start: this.start[i]!, end: this.end[i]! };
    const line = this.firstLine?.[i];
    if (line) split.firstLine = line;
    const other = this.rest.get(i);
    return other ? { ...split, ...other } : split;
  }

  /** The stored form: plain arrays, as JSON holds them. */
  toColumns(): SplitColumns {
    return {
      files: [...this.files],
      file: Array.from(this.file),
      start: Array.from(this.start),
      end: Array.from(this.end),
      ...(this.firstLine ? { firstLine: Array.from(this.firstLine) } : {}),
      ...(this.rest.size ? { rest: Object.fromEntries(this.rest) } : {}),
    };
  }
}
