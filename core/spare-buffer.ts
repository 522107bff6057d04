/**
 * One large buffer kept between a thread's tasks. On this VM first touching a fresh page of memory
 * costs more than using it (reading 64 MiB into a fresh buffer: 230 ms; into touched pages: 10 ms),
 * so a task reuses the buffer the thread's last task finished with.
 */
export class SpareBuffer {
  private kept: Buffer | undefined;

  /** The kept buffer, whole, if it has at least `min` bytes (it is no longer kept); else undefined. */
  take(min: number): Buffer | undefined {
    const b = this.kept;
    if (!b || b.length < min) return undefined;
    this.kept = undefined;
    return b;
  }

  /**
   * Keeps `buf` for the next task if it is larger than what is kept, widened to its whole memory
   * when that memory is its own (not a slice of Node's shared pool of small buffers).
   */
  give(buf: Buffer): void {
    const whole = buf.buffer.byteLength > Buffer.poolSize ? Buffer.from(buf.buffer, buf.byteOffset, buf.buffer.byteLength - buf.byteOffset) : buf;
    if (whole.length > (this.kept?.length ?? 0)) this.kept = whole;
  }
}

/** A typed array kept between a thread's tasks, taken whole and given back as a SpareBuffer's buffer is. */
export class SpareArray<T extends { readonly length: number }> {
  private kept: T | undefined;

  /** The kept array if it has at least `min` elements (it is no longer kept); else undefined. */
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
