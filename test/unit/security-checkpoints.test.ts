/**
 * A checkpoint folder is writable by whoever can write the workdir or the output: what a resume
 * reads from it must be a file an attempt of the task wrote there, never one a planted manifest or
 * link points at, and a map's resume may only move the read within the task's own split.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Split } from "../../core/splits.js";
import { Checkpointer, continueOrForget, refuseResume, resumedSplit, resumeFrom, type MapCheckpoint } from "../../worker/checkpoint.js";

const dir = mkdtempSync(join(tmpdir(), "sheaf-ckpt-sec-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = "top secret: the launch codes\n";
const secret = join(dir, "private", "secret.txt");
mkdirSync(dirname(secret));
writeFileSync(secret, SECRET);

let n = 0;
/** A task's checkpoint folder under a fresh layout root (as `<scratch>/<task>/checkpoint`), with one genuine checkpoint saved in it. */
function taskFolder(): { root: string; ckpt: string; into: string } {
  const root = join(dir, `scratch-${++n}`);
  const ckpt = join(root, "map-00000", "checkpoint");
  mkdirSync(join(root, "map-00000"), { recursive: true });
  const spill = join(root, "map-00000", "attempt-1-aa", "spill-0");
  mkdirSync(dirname(spill));
  writeFileSync(spill, "genuine run");
  new Checkpointer(ckpt, "attempt-1-aa", { everyBytes: 1, everyMs: 1 }).save(map({ start: 1100 }, [spill]), 100);
  return { root, ckpt, into: join(root, "map-00000", "attempt-2-bb") };
}

function map(resume: Record<string, unknown>, spills: string[]): MapCheckpoint {
  return { kind: "map", resume, recordsIn: 1, bytesIn: 100, counters: {}, badRecords: [], spills: spills.map((path) => ({ path, segments: [] })) };
}

function plant(ckpt: string, cp: object): string {
  const manifest = join(ckpt, "checkpoint-evil.json");
  writeFileSync(manifest, JSON.stringify({ ...cp, progress: 1e12 }));
  return manifest;
}

/** What the resumed checkpoint's files hold. */
const contents = (cp: MapCheckpoint | undefined) => cp?.spills.map((s) => readFileSync(s.path, "utf8"));

describe("a map checkpoint's spills must be files its own attempt linked, not links", () => {
  it("a spill that is a symlink to a secret is refused; the genuine checkpoint is resumed", () => {
    const { root, ckpt, into } = taskFolder();
    mkdirSync(join(ckpt, "attempt-9-evil"));
    symlinkSync(secret, join(ckpt, "attempt-9-evil", "spill-0"));
    const manifest = plant(ckpt, map({ start: 500 }, [join(ckpt, "attempt-9-evil", "spill-0")]));
    const resumed = resumeFrom<MapCheckpoint>(ckpt, "map", into, { root });
    expect(contents(resumed)).toEqual(["genuine run"]);
    expect(existsSync(manifest)).toBe(false);
  });

  it("a spill under a symlinked folder is refused", () => {
    const { root, ckpt, into } = taskFolder();
    symlinkSync(dirname(secret), join(ckpt, "attempt-9-evil"));
    plant(ckpt, map({ start: 500 }, [join(ckpt, "attempt-9-evil", basename(secret))]));
    expect(contents(resumeFrom<MapCheckpoint>(ckpt, "map", into, { root }))).toEqual(["genuine run"]);
  });

  it("a manifest that is a symlink is not read", () => {
    const { root, ckpt, into } = taskFolder();
    // A checkpoint elsewhere, naming a file in the task's folder: read through the link, it would be used.
    mkdirSync(join(ckpt, "attempt-9-evil"));
    writeFileSync(join(ckpt, "attempt-9-evil", "spill-0"), "planted run");
    const elsewhere = join(dir, `elsewhere-${n}.json`);
    writeFileSync(elsewhere, JSON.stringify({ ...map({ start: 500 }, [join(ckpt, "attempt-9-evil", "spill-0")]), progress: 1e12 }));
    symlinkSync(elsewhere, join(ckpt, "checkpoint-evil.json"));
    expect(contents(resumeFrom<MapCheckpoint>(ckpt, "map", into, { root }))).toEqual(["genuine run"]);
  });

  it("a checkpoint folder that is itself a symlink (to a folder of someone else's files) is not followed", () => {
    const root = join(dir, `scratch-${++n}`);
    mkdirSync(join(root, "map-00000"), { recursive: true });
    const other = join(dir, `other-${n}`);
    mkdirSync(join(other, "attempt-9-evil"), { recursive: true });
    writeFileSync(join(other, "attempt-9-evil", "spill-0"), SECRET);
    const ckpt = join(root, "map-00000", "checkpoint");
    symlinkSync(other, ckpt);
    plant(other, map({ start: 500 }, [join(ckpt, "attempt-9-evil", "spill-0")]));
    expect(resumeFrom<MapCheckpoint>(ckpt, "map", join(root, "map-00000", "attempt-2-bb"), { root })).toBeUndefined();
  });
});

describe("a part file is continued only from a regular file in the checkpoint's folder", () => {
  function partFolder(): { ckpt: string; manifest: string } {
    const ckpt = join(dir, `output-${++n}`, "_temporary", "reduce-00000-checkpoint");
    mkdirSync(join(ckpt, "attempt-1-aa"), { recursive: true });
    const manifest = join(ckpt, "checkpoint-attempt-1-aa.json");
    writeFileSync(manifest, "{}");
    return { ckpt, manifest };
  }

  it("a symlink to a secret is not copied", () => {
    const { ckpt, manifest } = partFolder();
    const part = join(ckpt, "attempt-1-aa", "part-00000");
    symlinkSync(secret, part);
    const to = join(dirname(ckpt), "reduce-00000-attempt-2-bb");
    expect(continueOrForget(manifest, { path: part, bytes: SECRET.length, records: 1 }, to)).toBe(false);
    expect(existsSync(to)).toBe(false);
    expect(existsSync(manifest)).toBe(false);
  });

  it("a file under a symlinked folder is not copied", () => {
    const { ckpt, manifest } = partFolder();
    symlinkSync(dirname(secret), join(ckpt, "attempt-9-evil"));
    const to = join(dirname(ckpt), "reduce-00000-attempt-2-bb");
    expect(continueOrForget(manifest, { path: join(ckpt, "attempt-9-evil", basename(secret)), bytes: SECRET.length, records: 1 }, to)).toBe(false);
    expect(existsSync(to)).toBe(false);
  });

  it("a part shorter than its checkpoint says is not padded out: the checkpoint is forgotten", () => {
    const { ckpt, manifest } = partFolder();
    const part = join(ckpt, "attempt-1-aa", "part-00000");
    writeFileSync(part, "one\ntwo\n");
    const to = join(dirname(ckpt), "reduce-00000-attempt-2-bb");
    expect(continueOrForget(manifest, { path: part, bytes: 100, records: 12 }, to)).toBe(false);
    expect(existsSync(to)).toBe(false);
    // The genuine case still continues, from a prefix.
    writeFileSync(manifest, "{}");
    expect(continueOrForget(manifest, { path: part, bytes: 4, records: 1 }, to)).toBe(true);
    expect(readFileSync(to, "utf8")).toBe("one\n");
  });
});

describe("a map checkpoint's resume only moves the read within the task's own split", () => {
  const split: Split = { file: "/data/in.txt", start: 1000, end: 2000, firstLine: 40, bytes: 1000 };
  const refuse = (cp: MapCheckpoint) => refuseResume(split, cp.resume);

  const refused: Record<string, Record<string, unknown>> = {
    "names another file": { file: secret, start: 1000 },
    "changes the unit": { unit: "whole", skip: 0 },
    "changes the key range": { range: { lo: null, hi: null } },
    "moves the end": { start: 1500, end: 1e9 },
    "starts before the split": { start: 0 },
    "starts past the split": { start: 2001 },
    "numbers lines before the split's": { start: 1500, firstLine: 1 },
    "is a negative skip": { skip: -1 },
  };
  for (const [what, resume] of Object.entries(refused)) {
    it(`one that ${what} is refused and dropped`, () => {
      const { root, ckpt, into } = taskFolder();
      const manifest = plant(ckpt, map(resume, []));
      const resumed = resumeFrom<MapCheckpoint>(ckpt, "map", into, { root, refuse });
      expect(resumed?.resume).toEqual({ start: 1100 }); // the genuine one
      expect(existsSync(manifest)).toBe(false);
    });
  }

  it("one within the split is used, and only its offsets are taken", () => {
    const { root, ckpt, into } = taskFolder();
    plant(ckpt, map({ start: 1500, firstLine: 70 }, []));
    const resumed = resumeFrom<MapCheckpoint>(ckpt, "map", into, { root, refuse })!;
    expect(resumed.resume).toEqual({ start: 1500, firstLine: 70 });
    expect(resumedSplit(split, resumed.resume)).toEqual({ ...split, start: 1500, firstLine: 70 });
    expect(resumedSplit(split, { skip: 12 })).toEqual({ ...split, skip: 12 });
  });

  it("the split a resume is spread over keeps its own file, unit, range and end whatever the resume holds", () => {
    const hostile = { file: secret, unit: "whole", end: 1e9, range: { lo: null, hi: null }, start: 1200 } as unknown as Partial<Split>;
    expect(resumedSplit(split, hostile)).toEqual({ ...split, start: 1200 });
  });
});
