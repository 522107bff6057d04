import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { sleep } from "../../core/sleep.js";

describe("sleep", () => {
  it("leaves no listener on the signal once the time is up, however many waits share it", async () => {
    const c = new AbortController();
    for (let i = 0; i < 20; i++) await sleep(1, c.signal);
    expect(getEventListeners(c.signal, "abort")).toHaveLength(0);
  });

  it("ends early, without rejecting, when the signal aborts", async () => {
    const c = new AbortController();
    const started = Date.now();
    setTimeout(() => c.abort(new Error("stop")), 20);
    await sleep(10_000, c.signal);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(getEventListeners(c.signal, "abort")).toHaveLength(0);
    await sleep(10_000, c.signal); // already aborted: at once
  });
});
