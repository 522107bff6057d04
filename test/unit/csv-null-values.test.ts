/** Issue 17: csv({ nullValues }) names the field texts read as null; the default stays the empty field alone. */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { csv, type CsvOptions } from "../../core/api/formats.js";
import { csvReader } from "../../core/formats/csv.js";

const dir = mkdtempSync(join(tmpdir(), "sheaf-csv-nulls-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every row of `text` read as csv(options), and the bad records' messages. */
async function read(text: string, options: CsvOptions): Promise<{ rows: unknown[]; bad: string[] }> {
  const file = join(dir, `f${Math.random().toString(36).slice(2)}.csv`);
  writeFileSync(file, text);
  const reader = csvReader(csv(options));
  const rows: unknown[] = [];
  const bad: string[] = [];
  for (const split of await reader.plan([{ path: file, size: statSync(file).size }], 1 << 20, dir)) {
    await reader.read(split, (b) => void rows.push(...b.records), { cwd: dir, onBadRecord: (_at, message) => void bad.push(message) });
  }
  return { rows, bad };
}

const TEXT = 'id,n,ok,name\n1,NULL,true,NULL\n2,,f,""\n3,7,yes,x\n';
const COLUMNS = { id: "int32", n: "int32", ok: "bool" } as const;

describe("csv nullValues", () => {
  it("reads each listed text as null, in typed and string columns alike", async () => {
    const { rows, bad } = await read(TEXT, { columns: COLUMNS, nullValues: ["", "NULL"] });
    expect(bad).toEqual([]);
    expect(rows).toEqual([
      { id: 1, n: null, ok: true, name: null },
      { id: 2, n: null, ok: false, name: null },
      { id: 3, n: 7, ok: true, name: "x" },
    ]);
  });

  it("by default, only the empty field is null: NULL is a string, and no int32", async () => {
    const strings = await read(TEXT, { columns: { id: "int32", ok: "bool" } });
    expect(strings.rows).toEqual([
      { id: 1, n: "NULL", ok: true, name: "NULL" },
      { id: 2, n: null, ok: false, name: null },
      { id: 3, n: "7", ok: true, name: "x" },
    ]);
    expect((await read(TEXT, { columns: COLUMNS })).bad).toEqual([expect.stringContaining('column n: "NULL" is not an int32')]);
  });

  it("without the empty field in the list, an empty string column is the empty string", async () => {
    const { rows } = await read("id,name\n1,\n2,NA\n", { columns: { id: "int32" }, nullValues: ["NA"] });
    expect(rows).toEqual([{ id: 1, name: "" }, { id: 2, name: null }]);
  });

  it("refuses anything but a list of strings, naming the option", () => {
    expect(() => csv({ nullValues: "NULL" as never })).toThrow(/^csv\(\): nullValues must be a list of strings, got "NULL"$/);
    expect(() => csv({ nullValues: ["", 0] as never })).toThrow(/csv\(\): nullValues must be a list of strings/);
    expect(csv({ nullValues: [""] })).toEqual(csv()); // the default: a format as before
  });
});
