/**
 * Issue 17: every command's --help lists the flags README's flags table gives it, with the
 * table's defaults, and names the environment variables defaults come from (SHEAF_WORKDIR,
 * SHEAF_REDIS_URL, SHEAF_PREFIX) and that sign a cluster's messages (SHEAF_KEYS, SHEAF_SECRET).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, REPO } from "./helpers.js";

/** `sheaf <command> --help`, with `env` over this process's environment. */
function help(command: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(process.execPath, [CLI, ...command, "--help"], { cwd: REPO, encoding: "utf8", env: { ...process.env, ...env } });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** Each long flag of a help text, with its description (wrapped lines joined). */
function helpFlags(text: string): Map<string, string> {
  const flags = new Map<string, string>();
  let names: string[] = [];
  for (const line of text.split("\n")) {
    const entry = /^  (-\S.*?)(?:\s{2,}(.*))?$/.exec(line);
    const more = /^\s{4,}(\S.*)$/.exec(line);
    if (entry) {
      names = entry[1]!.match(/--[a-z][a-z-]*/g) ?? [];
      for (const n of names) flags.set(n, entry[2] ?? "");
    } else if (more && names.length) for (const n of names) flags.set(n, `${flags.get(n)} ${more[1]}`);
    else names = [];
  }
  return flags;
}

/** The rows of README's flags table (under "Run a job"): the long flags of a row, and its default without backticks. */
function readmeRows(): { flags: string[]; default: string }[] {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Run a job"), readme.indexOf("## Run a cluster"));
  const rows = section.split("\n").filter((l) => l.startsWith("| `-"));
  expect(rows.length).toBeGreaterThan(10);
  return rows.map((row) => {
    const cells = row.slice(1, -1).split(" | ").map((c) => c.trim());
    return { flags: cells[0]!.match(/--[a-z][a-z-]*/g) ?? [], default: cells.at(-1)!.replace(/`/g, "") };
  });
}

/** The commands that take the table's flags, less the ones each does not take (README: submit and schedule add take run's job flags). */
const COMMANDS: [string[], string[]][] = [
  [["run"], []],
  [["submit"], ["--threads"]],
  [["schedule", "add"], ["--threads", "--quiet", "--overwrite", "--wait-for-output", "--at", "--force", "--only", "--from"]],
];

describe("--help", () => {
  for (const [command, without] of COMMANDS) {
    it(`sheaf ${command.join(" ")} lists README's flags with README's defaults`, () => {
      const flags = helpFlags(help(command));
      for (const row of readmeRows()) {
        const names = row.flags.filter((f) => !without.includes(f));
        for (const f of names) expect(flags.has(f), `${f} in sheaf ${command.join(" ")} --help`).toBe(true);
        if (names.length === 0 || row.default === "" || row.default.startsWith("required")) continue;
        const shown = names.map((f) => /\(default: ([^)]*)\)/.exec(flags.get(f) ?? "")?.[1] ?? "").join(" | ").toLowerCase();
        // A row of several flags gives their defaults in one cell, comma-separated.
        for (const part of row.flags.length > 1 ? row.default.split(", ") : [row.default]) {
          expect(shown, `the default of ${names.join(", ")} in sheaf ${command.join(" ")} --help`).toContain(part.toLowerCase());
        }
      }
    });
  }

  it("names the variable a default comes from, not the value it has here", () => {
    const text = help(["run"], { SHEAF_WORKDIR: "/mnt/elsewhere" }).replace(/\s+/g, " ");
    expect(text).toContain("(default: $SHEAF_WORKDIR or ./.sheaf)");
    expect(text).not.toContain("/mnt/elsewhere");
  });

  for (const command of [["submit"], ["coordinator"], ["worker"], ["status"], ["cancel"], ["schedule", "add"]]) {
    it(`sheaf ${command.join(" ")} names SHEAF_REDIS_URL, SHEAF_PREFIX, SHEAF_KEYS and SHEAF_SECRET`, () => {
      const text = help(command, { SHEAF_PREFIX: "elsewhere" }).replace(/\s+/g, " ");
      expect(text).toContain("(default: $SHEAF_REDIS_URL)");
      expect(text).toContain("(default: $SHEAF_PREFIX or sheaf)");
      for (const name of ["SHEAF_KEYS", "SHEAF_SECRET"]) expect(text).toContain(name);
    });
  }
});
