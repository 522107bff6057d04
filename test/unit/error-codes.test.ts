/**
 * Engine errors are SheafErrors whose code is one of ERROR_CODES: the list is the whole vocabulary
 * (each code is thrown somewhere, none is thrown from outside it), core/errors.ts imports nothing,
 * the engine throws no bare Error where a user could meet it, and representative failures carry
 * the codes the README documents.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { failureOf } from "../../coordinator/queue-executor.js";
import { Keys } from "../../core/cluster/keys.js";
import { ERROR_CODES, isErrorCode, SheafError, type ErrorCode } from "../../core/errors.js";
import { checkMessage, Schemas } from "../../core/security/messages.js";
import { CorruptSegmentError } from "../../core/shuffle/segment.js";
import { parseSize } from "../../core/splits.js";
import { toFailure } from "../../core/task-failure.js";
import type { Task } from "../../core/tasks.js";
import { jobEnded, runEnded } from "../../runner/ended.js";
import type { JobRecord } from "../../core/cluster/jobs.js";
import type { RunRecord } from "../../core/cluster/runs.js";

const ROOT = resolve(import.meta.dirname, "../..");
const FOLDERS = ["core", "engine", "coordinator", "worker", "runner", "cli", "dashboard"];

const sources = FOLDERS.flatMap((dir) =>
  readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
    .map((e) => relative(ROOT, join(e.parentPath, e.name))),
);
const text = new Map(sources.map((f) => [f, readFileSync(join(ROOT, f), "utf8")]));
/** The sources less the list itself (core/errors.ts throws NO_SPACE and others too). */
const uses = [...text].map(([f, t]) => (f === "core/errors.ts" ? t.replace(/export const ERROR_CODES = \[[^\]]*\]/, "") : t));

function codeOf(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SheafError);
    return (err as SheafError).code;
  }
  return undefined;
}

describe("error codes", () => {
  it("are unique, and each is used by the engine outside the list itself", () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    const unused = ERROR_CODES.filter((code) => {
      // FORGED_<PURPOSE> is built from the record's purpose (engine/admission.ts) and FORGED_PLAN named outright.
      const quoted = new RegExp(`["\`]${code}["\`]`);
      const built = code.startsWith("FORGED_") && uses.some((t) => t.includes("`FORGED_${"));
      return !built && !uses.some((t) => quoted.test(t));
    });
    expect(unused).toEqual([]);
  });

  it("README's table lists exactly the codes of the list", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const table = readme.slice(readme.indexOf("### Error codes"), readme.indexOf("\n## ", readme.indexOf("### Error codes")));
    const listed = [...table.matchAll(/^\|[^|]*\|(.*)\|$/gm)].flatMap((m) => [...m[1]!.matchAll(/`([A-Z_]+)`/g)].map((c) => c[1]!));
    expect(listed.sort()).toEqual([...ERROR_CODES].sort());
  });

  it("core/errors.ts is a leaf: it imports nothing", () => {
    expect(text.get("core/errors.ts")).not.toMatch(/^\s*(import|export)\s[^;]*\sfrom\s/m);
  });

  it("no engine module throws a bare Error, TypeError or RangeError except the few reviewed here", () => {
    // Each kept one never reaches a user as itself: a cause wrapped with the file's name (arrow,
    // parquet guard), a user-code fault wrapped as USER_CODE_ERROR (user-code.ts), a shuffle decode
    // error turned into CORRUPT_INTERMEDIATE (values.ts).
    const allowed = new Map([
      ["core/formats/arrow.ts", 2],
      ["core/formats/parquet.ts", 2],
      ["worker/user-code.ts", 2],
      ["core/shuffle/values.ts", 3],
      ["core/schedule-clock.ts", 1], // caught on the spot (checkZone)
    ]);
    const found = new Map<string, number>();
    for (const [f, t] of text) {
      if (f.startsWith("core/api/")) continue; // the job API validates the user's own module: TypeErrors by design
      const n = [...t.matchAll(/new (Error|TypeError|RangeError)\(/g)].length;
      if (n > 0) found.set(f, n);
    }
    expect(Object.fromEntries(found)).toEqual(Object.fromEntries(allowed));
  });

  it("only codes of the list compile, and isErrorCode tells them from any other string", () => {
    // @ts-expect-error: not an ErrorCode
    const typo = new SheafError("TYPO", "x");
    expect(typo.code).toBe("TYPO");
    expect(isErrorCode("BAD_OPTION")).toBe(true);
    expect(isErrorCode("ENOENT")).toBe(false);
    expect(isErrorCode(undefined)).toBe(false);
  });
});

describe("representative failures carry their codes", () => {
  it("a bad size or prefix is BAD_OPTION", () => {
    expect(codeOf(() => parseSize("12 parsecs"))).toBe("BAD_OPTION");
    expect(codeOf(() => new Keys("no spaces"))).toBe("BAD_OPTION");
  });

  it("a malformed message is BAD_MESSAGE, naming the field", () => {
    expect(codeOf(() => checkMessage(Schemas.result, { kind: "map", taskId: "map-00001" }, "result"))).toBe("BAD_MESSAGE");
  });

  it("a corrupt intermediate file is a retryable CORRUPT_INTERMEDIATE naming the map task to re-run", () => {
    const err = new CorruptSegmentError({ path: "/w/m.out", offset: 0, length: 10, records: 1, crc: 0, producer: "map-00002" }, "checksum mismatch");
    expect(err).toBeInstanceOf(SheafError);
    expect(err.retryable).toBe(true);
    const f = toFailure(err, { taskId: "reduce-00000" as Task["taskId"], attempt: 1 });
    expect(f).toMatchObject({ code: "CORRUPT_INTERMEDIATE", retryable: true, producer: "map-00002", lost: "/w/m.out" });
  });

  it("a job or run that did not succeed ends as …_FAILED or …_CANCELLED, its message unchanged", () => {
    const job = (state: JobRecord["state"]) => ({ spec: { id: "wc-1", name: "wc" }, state, error: "job wc failed: boom", cancelRequested: false, failedAttempts: 0 }) as unknown as JobRecord;
    expect(jobEnded(job("failed"))).toMatchObject({ code: "JOB_FAILED", message: "job wc-1 failed: boom" });
    expect(jobEnded(job("cancelled")).code).toBe("JOB_CANCELLED");
    const run = { spec: { id: "r-1", pipeline: "p" }, state: "cancelled", stages: {}, cancelRequested: true } as unknown as RunRecord;
    expect(runEnded(run)).toMatchObject({ code: "PIPELINE_CANCELLED", message: "pipeline run r-1 cancelled" });
  });

  it("a failure that does not fit its schema comes back as TASK_LOST", () => {
    const task = { kind: "map", taskId: "map-00003", attempt: 1 } as unknown as Task;
    expect(failureOf(task, JSON.stringify({ code: "USER_CODE_ERROR", message: "boom" }))).toMatchObject({ code: "TASK_LOST", retryable: true });
  });
});
