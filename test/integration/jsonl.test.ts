/**
 * jsonl in, jsonl out, and back in: a job aggregates JSON records per user and writes
 * {"key":…,"value":…} lines; a second job reads those part files as its input. Both job files live
 * in a temp folder outside the repo.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Scratch, leftovers, makeRng, outputText, pick, run, runOk, sameOutput, textLines } from "./helpers.js";

const s = new Scratch("jsonl");
afterAll(() => s.cleanup());

interface Purchase {
  user: string;
  amount: number;
  tags: string[];
  meta: { source: string; nested: { ok: boolean } } | null;
}

const USERS = ["ann", "bob", "Zoë", "日本", "😀 emoji", 'quote"and\\backslash', "new\nline\ttab", "\uE000", ""];
const TAGS = ["a", "b", "c", "ü", "😀"];

let workdir: string;
let perUserJob: string;
let byCountJob: string;
let inputs: string[];
const records: Purchase[] = [];

beforeAll(() => {
  workdir = s.path("workdir");
  perUserJob = s.write(
    "jobs/per-user.ts",
    `import { defineJob, jsonl } from "sheaf";

interface Purchase { user: string; amount: number; tags: string[]; meta: unknown }

export default defineJob({
  name: "per-user",
  input: jsonl(),
  map(p: Purchase, emit) {
    emit(p.user, { amount: p.amount, tags: p.tags, meta: p.meta });
  },
  reduce(_user, values: Iterable<{ amount: number; tags: string[]; meta: unknown }>) {
    let total = 0, n = 0;
    const tags = new Set<string>();
    let lastMeta: unknown = null;
    for (const v of values) {
      total += v.amount;
      n++;
      for (const t of v.tags) tags.add(t);
      lastMeta = v.meta;
    }
    return { total, n, tags: [...tags].sort(), lastMeta };
  },
  output: jsonl(),
});
`,
  );
  byCountJob = s.write(
    "jobs/by-count.ts",
    `import { defineJob, jsonl, toArray } from "sheaf";

export default defineJob({
  name: "by-count",
  input: jsonl(),
  map(r: { key: string; value: { n: number } }, emit) {
    emit(r.value.n, r.key);
  },
  reduce: (_n, users: Iterable<string>) => toArray(users).sort(),
  output: jsonl(),
});
`,
  );

  const rng = makeRng(3);
  const files: string[][] = [[], [], []];
  for (let i = 0; i < 300; i++) {
    const p: Purchase = {
      user: pick(rng, USERS),
      amount: Math.floor(rng() * 1000) - 100,
      tags: TAGS.filter(() => rng() < 0.3),
      meta: rng() < 0.5 ? null : { source: pick(rng, ["web", "app", "日本"]), nested: { ok: rng() < 0.5 } },
    };
    records.push(p);
    files[i % 3]!.push(JSON.stringify(p));
  }
  // Records are split across files in a known order, so "last meta" has one right answer.
  inputs = [
    s.write("in/1.jsonl", files[0]!.join("\n") + "\n"),
    s.write("in/2.jsonl", files[1]!.join("\r\n")), // CRLF, no final newline
    s.write("in/3.jsonl", files[2]!.join("\n") + "\n"),
  ];
});

function perUserOracle(): Map<string, unknown> {
  // Files in sorted path order (1, 2, 3), lines in order.
  const ordered = [0, 1, 2].flatMap((f) => records.filter((_, i) => i % 3 === f));
  const acc = new Map<string, { total: number; n: number; tags: Set<string>; lastMeta: unknown }>();
  for (const p of ordered) {
    const a = acc.get(p.user) ?? { total: 0, n: 0, tags: new Set<string>(), lastMeta: null };
    a.total += p.amount;
    a.n++;
    for (const t of p.tags) a.tags.add(t);
    a.lastMeta = p.meta;
    acc.set(p.user, a);
  }
  return new Map([...acc].map(([u, a]) => [u, { total: a.total, n: a.n, tags: [...a.tags].sort(), lastMeta: a.lastMeta }]));
}

function parseJsonl(dir: string): { key: unknown; value: unknown }[] {
  return textLines(outputText(dir)).map((l) => JSON.parse(l) as { key: unknown; value: unknown });
}

describe("jsonl", () => {
  it("reads jsonl records and writes {key, value} lines, then reads its own output back", () => {
    const want = perUserOracle();
    const outs: string[] = [];
    for (const splitSize of ["64m", "500"]) {
      const out = s.fresh("per-user");
      runOk({ job: perUserJob, inputs: [s.path("in")], output: out, workdir, splitSize, partitions: 3, threads: 2 });
      const got = parseJsonl(out);
      expect(got.every((r) => Object.keys(r).join(",") === "key,value")).toBe(true);
      expect(new Map(got.map((r) => [r.key as string, r.value]))).toEqual(want);
      expect(got).toHaveLength(want.size);
      outs.push(out);
    }
    sameOutput(outs[0]!, outs[1]!);

    // Round trip: the part files (by glob) are the next job's input.
    const out2 = s.fresh("by-count");
    runOk({ job: byCountJob, inputs: [join(outs[0]!, "part-*")], output: out2, workdir, partitions: 1, splitSize: "100", threads: 2 });
    const byCount = new Map<number, string[]>();
    for (const [user, v] of want) {
      const n = (v as { n: number }).n;
      byCount.set(n, [...(byCount.get(n) ?? []), user].sort());
    }
    const wantLines = [...byCount].sort(([a], [b]) => a - b).map(([n, users]) => JSON.stringify({ key: n, value: users }));
    expect(textLines(outputText(out2))).toEqual(wantLines);
  });

  it("fails on an invalid JSON line, naming the file and the line's byte offset", () => {
    const good = '{"user":"ann","amount":1,"tags":[],"meta":null}';
    const before = `${good}\r\n${good.replace("ann", "日本")}\n`;
    const bad = s.write("bad/broken.jsonl", `${before}{"user": "bob", oops}\n${good}\n`);
    const out = s.fresh("broken");
    const r = run({ job: perUserJob, inputs: [bad], output: out, workdir, maxAttempts: 2 });
    expect(r.status).not.toBe(0);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^sheaf: /);
    expect(lines[0]).toContain("per-user");
    expect(lines[0]).toContain(bad);
    expect(lines[0]).toMatch(new RegExp(`\\b${Buffer.byteLength(before)}\\b`));
    expect(leftovers(out)).toEqual([]);
  });
});
