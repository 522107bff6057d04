/**
 * Answers the open pages share: an API read asked again within TTL_MS (another viewer of the same
 * page, or the same one redrawing) gets the text already read and serialized, so N viewers cost
 * the cluster what one does. Cleared when the cluster announces a change (live.ts), so an ended or
 * cancelled job never shows its old state for the rest of a second.
 */
const TTL_MS = 1_000;
/** Entries kept at most: a few per open page. */
const MAX = 256;

export class SharedReads {
  private readonly entries = new Map<string, { at: number; text: Promise<string | undefined> }>();

  /** `read`'s answer as JSON text (undefined for none), read at most once a second per `key`. */
  json(key: string, read: () => Promise<unknown>): Promise<string | undefined> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < TTL_MS) return hit.text;
    const entry = { at: now, text: read().then((data) => (data === undefined ? undefined : JSON.stringify(data))) };
    entry.text.catch(() => this.entries.get(key) === entry && this.entries.delete(key)); // a failure is not kept
    this.entries.delete(key); // re-inserted last: the map's order is the age order
    this.entries.set(key, entry);
    for (const [k, e] of this.entries) {
      if (this.entries.size <= MAX && now - e.at < TTL_MS) break;
      this.entries.delete(k);
    }
    return entry.text;
  }

  clear(): void {
    this.entries.clear();
  }
}
