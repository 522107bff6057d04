import { describe, expect, it } from "vitest";
import { abortSignalOf, Stop } from "../../core/executor.js";

describe("Stop (an attempt's light stop signal)", () => {
  it("calls each listener once, with the reason set, and ignores a second stop", () => {
    const stop = new Stop();
    const heard: unknown[] = [];
    stop.addEventListener("abort", () => heard.push(stop.reason));
    stop.addEventListener("abort", () => heard.push(`second ${String(stop.aborted)}`));
    expect(stop.aborted).toBe(false);
    stop.abort("superseded");
    stop.abort("again");
    expect(heard).toEqual(["superseded", "second true"]);
    expect(stop.reason).toBe("superseded");
  });

  it("becomes an AbortSignal that follows it, stopped already or later; an AbortSignal is passed through", () => {
    const later = new Stop();
    const signal = abortSignalOf(later);
    expect(signal.aborted).toBe(false);
    later.abort(new Error("job cancelled"));
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).message).toBe("job cancelled");

    const early = new Stop();
    early.abort("done");
    expect(abortSignalOf(early).reason).toBe("done");

    const native = new AbortController().signal;
    expect(abortSignalOf(native)).toBe(native);
  });
});
