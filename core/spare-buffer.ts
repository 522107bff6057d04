/**
 * Large arrays kept between a thread's tasks. On this VM first touching a fresh page of memory
 * costs more than using it (reading 64 MiB into a fresh buffer: 230 ms; into touched pages: 10 ms),
 * so a task reuses what the thread's last task finished with.
 */

/** One typed array kept for the thread's next user, taken whole and given back. */
export class SpareArray<T extends { readonly length: number }> {
  private kept: T | undefined;

  /** The kept array, whole, if it has at least `min` elements (it is no longer kept); else undefined. */
  take(min: number): T | undefined {
    const a = this.kept;
    if (!a || a.length < min) return undefined;
    this.kept = undefined;
    return a;
  }

  /** Keeps `a` for the next user if it is larger than what is kept. */
  give(a: T): void {
    if (a.length > (this.kept?.length ?? 0)) this.kept = a;
  }
}

/** A kept Buffer, widened when given back to its whole memory when that memory is its own (not a slice of Node's shared pool of small buffers). */
export class SpareBuffer extends SpareArray<Buffer> {
  override give(buf: Buffer): void {
    super.give(buf.buffer.byteLength > Buffer.poolSize ? Buffer.from(buf.buffer, buf.byteOffset, buf.buffer.byteLength - buf.byteOffset) : buf);
  }
}
