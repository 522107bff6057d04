/**
 * An `async` setup or cleanup is awaited; an `async` map or reduce is refused with a clear error
 * naming it (issue 18: its promise was dropped, and with it what it emitted, or written as `{}`).
 */
import { afterAll, describe, expect, it } from "vitest";
import { outputText, runCli, Scratch } from "./helpers.js";

const s = new Scratch("async-user-code");
afterAll(() => s.cleanup());

const input = () => s.write("in.txt", "a\nb\na\n");

describe("async user code", () => {
  it("an async setup is awaited before the first record", () => {
    const job = s.write("setup.ts", `import { defineJob, lines, sum } from "sheaf";
let prefix = "";
export default defineJob({ name: "asetup", input: lines(),
  async setup() { await new Promise((r) => setTimeout(r, 50)); prefix = "ready-"; },
  map(l: string, emit) { emit(prefix + l, 1); }, reduce: (_k, n: Iterable<number>) => sum(n), partitions: 1 });
`);
    const out = s.path("out-setup");
    const r = runCli(["run", job, "-i", input(), "-o", out, "-q"]);
    expect(r.status, r.stderr).toBe(0);
    expect(outputText(out)).toBe("ready-a\t2\nready-b\t1\n");
  });

  for (const where of ["map", "reduce"] as const) {
    it(`an async ${where} fails the job at once, naming it`, () => {
      const fns = where === "map"
        ? `async map(l: string, emit) { emit(l, 1); }, reduce: (_k, n: Iterable<number>) => sum(n)`
        : `map(l: string, emit) { emit(l, 1); }, async reduce(_k, n: Iterable<number>) { return sum(n); }`;
      const job = s.write(`${where}.ts`, `import { defineJob, lines, sum } from "sheaf";\nexport default defineJob({ name: "a${where}", input: lines(), ${fns}, partitions: 1 });\n`);
      const r = runCli(["run", job, "-i", input(), "-o", s.path(`out-${where}`), "-q"]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`(attempt 1 of 1): ${where} returned a promise: an async ${where} is not supported`);
    });
  }
});
