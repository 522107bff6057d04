/**
 * The job API's types, checked by the compiler over test/fixtures/types/: jobs that must compile
 * (with exact-type checks of their records and batches) and lines that must not, each marked
 * `// @ts-expect-error <part of its message>`. `tsc -p tsconfig.json` compiles that folder too,
 * where a marked line that stops failing is itself an error; here the marks are expectations read
 * with the directives switched off, so each marked line must fail with its own message (not some
 * other error) and no unmarked line may fail.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import ts from "typescript";
import { expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const DIR = join(ROOT, "test/fixtures/types");
const MARK = /\/\/ @ts-expect-error (.+)$/;

function compilerOptions(): ts.CompilerOptions {
  const file = join(ROOT, "tsconfig.json");
  const { config } = ts.readConfigFile(file, ts.sys.readFile);
  return { ...ts.parseJsonConfigFileContent(config, ts.sys, ROOT).options, noEmit: true };
}

it("jobs are typed from their input format, and emit needs a value when the job reduces", () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith(".ts")).map((f) => join(DIR, f));
  const expected = new Map<string, string>(); // "file:line" → part of the message
  const texts = new Map<string, string>();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    text.split("\n").forEach((line, i) => {
      const m = MARK.exec(line);
      if (m) expected.set(`${relative(DIR, file)}:${i + 2}`, m[1]!.trim());
    });
    // Same length and lines: positions stay where the marks say.
    texts.set(file, text.replaceAll("@ts-expect-error", "@ts-expected-err"));
  }
  expect(expected.size).toBeGreaterThanOrEqual(10);

  const options = compilerOptions();
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) => {
    const text = texts.get(resolve(name));
    return text === undefined ? read(name, language, ...rest) : ts.createSourceFile(name, text, language);
  };
  const program = ts.createProgram(files, options, host);

  const got = new Map<string, string[]>();
  for (const file of files) {
    const source = program.getSourceFile(file)!;
    for (const d of [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]) {
      const { line } = source.getLineAndCharacterOfPosition(d.start ?? 0);
      const at = `${relative(DIR, file)}:${line + 1}`;
      got.set(at, [...(got.get(at) ?? []), ts.flattenDiagnosticMessageText(d.messageText, "\n")]);
    }
  }
  const missing = [...expected].filter(([at, part]) => !got.get(at)?.some((m) => m.includes(part))).map(([at, part]) => `${at}: expected "${part}", got ${JSON.stringify(got.get(at) ?? "no error")}`);
  const unexpected = [...got].filter(([at]) => !expected.has(at)).map(([at, messages]) => `${at}: ${messages.join(" | ")}`);
  expect({ missing, unexpected }).toEqual({ missing: [], unexpected: [] });
});
