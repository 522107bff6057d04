/**
 * The cluster's Redis protocol lives in core/cluster/state alone: Lua only in its .lua files, run
 * only through its scripts module; the events have one encoder and one decoder.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeEvent, encodeEvent, type ClusterEvent } from "../../core/cluster/state/events.js";
import { SCRIPT_NAMES, scriptSource } from "../../core/cluster/state/scripts.js";

const ROOT = resolve(import.meta.dirname, "../..");
const STATE = "core/cluster/state";
const LUA = join(ROOT, STATE, "lua");

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts|cts)$/.test(e.name))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

describe("the cluster-state module", () => {
  it("every script has its .lua file, every .lua file is a script or a prelude, and each fills all its constants", () => {
    const files = readdirSync(LUA).filter((f) => f.endsWith(".lua")).map((f) => f.slice(0, -4)).sort();
    expect(files).toEqual([...SCRIPT_NAMES, "fence", "records"].sort());
    for (const name of SCRIPT_NAMES) expect(scriptSource(name), name).not.toMatch(/\{\{|\}\}/);
    // A fenced script refuses before it writes: the fence comes before the body.
    const fire = scriptSource("fire");
    const firstLine = readFileSync(join(LUA, "fire.lua"), "utf8").split("\n").find((l) => l.startsWith("if "))!;
    expect(fire.indexOf("then return -1 end")).toBeGreaterThan(-1);
    expect(fire.indexOf("then return -1 end")).toBeLessThan(fire.indexOf(firstLine));
  });

  it("no Lua and no EVAL outside it", () => {
    const offenders = ["core", "engine", "coordinator", "worker", "runner", "cli"]
      .flatMap(sources)
      .filter((f) => !f.startsWith(`${STATE}/`))
      .filter((f) => /\.eval\(|\.evalsha\(|redis\.call\(|redis\.pcall\(/.test(readFileSync(join(ROOT, f), "utf8")));
    expect(offenders).toEqual([]);
  });

  it("events: one encoding, decoded back; an unknown or malformed event is ignored", () => {
    const events: ClusterEvent[] = [
      { kind: "submitted", id: "j-1" },
      { kind: "finished", id: "run.nightly.1" },
      { kind: "cancel", id: "j-2" },
      { kind: "stop", id: "j-2.map-00001.r2" },
      { kind: "schedule", id: "nightly etl" },
    ];
    for (const e of events) expect(decodeEvent(encodeEvent(e))).toEqual(e);
    expect(decodeEvent("resize j-1")).toBeUndefined();
    expect(decodeEvent("cancel")).toBeUndefined();
    expect(decodeEvent(" cancel j-1")).toBeUndefined();
  });
});
