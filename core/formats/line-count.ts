/**
 * Line numbers found when first needed rather than at planning. Counting a file's newlines while
 * planning is a serial pass over the whole input before any task starts (0.4 to 0.6 s per GiB
 * here); a CSV task needs a line number only to name a bad row (or when its map reads
 * `ctx.input.line`), so it counts its file's newlines up to that row then, once per task, and on
 * from there for later rows.
 */
import { closeSync, openSync, readSync } from "node:fs";

const NL = 10;

export class LineCounter {
  /** Newlines in the file's bytes [0, pos). */
  private pos = 0;
  private newlines = 0;
  private buf: Buffer | undefined;

  constructor(private readonly path: string) {}

  /** The 1-based number of the line starting at byte `offset` (the file's start, or just past a newline). */
  lineAt(offset: number): number {
    if (offset < this.pos) {
      this.pos = 0;
      this.newlines = 0;
    }
    const buf = (this.buf ??= Buffer.allocUnsafe(1 << 20));
    const fd = openSync(this.path, "r");
    try {
      while (this.pos < offset) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, offset - this.pos), this.pos);
        if (n <= 0) break;
        for (let i = buf.indexOf(NL); i >= 0 && i < n; i = buf.indexOf(NL, i + 1)) this.newlines++;
        this.pos += n;
      }
    } finally {
      closeSync(fd);
    }
    return this.newlines + 1;
  }
}
