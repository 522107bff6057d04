/**
 * Inputs in an S3-compatible store (s3rver here): `-i s3://bucket/prefix/` (a folder of objects),
 * a glob on keys, a gzip object, read by `sheaf run` and by a cluster's workers. A text split is read
 * by range, its last line fetched past the split's end; the output must equal a plain count over the
 * same bytes read locally, and equal `sheaf run` over local copies.
 */
import { readFileSync, statSync } from "node:fs";
import { basename } from "node:path";
import { gzipSync } from "node:zlib";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectOracle, wordcountOracle, writeCorpus } from "./fault-kit.js";
import { EXAMPLE_JOBS, sameOutput, Scratch } from "./helpers.js";
import { storeCluster, type ObjectStore } from "./object-store.js";

const s = new Scratch("object-inputs");
const env = storeCluster(s);
const cluster = env.cluster;
const WORDCOUNT = `${EXAMPLE_JOBS}/wordcount.ts`;
let store: ObjectStore;
const sheaf = (args: string[]) => env.sheaf(args);
let files: string[] = [];

beforeAll(async () => {
  await env.start();
  store = env.store();
  // Splits of 64 KiB over ~300 KiB objects: most splits start and end mid-line.
  files = writeCorpus(s, "corpus", 3, 300_000, 500, 7);
  const put = (key: string, body: Buffer) => store.client().send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: body }));
  for (const f of files) await put(`corpus/${basename(f)}`, readFileSync(f));
  await put("corpus/_SUCCESS", Buffer.from("")); // skipped, as in a folder
  await put("corpus/.hidden", Buffer.from("not counted\n"));
  await put("more/extra.txt.gz", gzipSync(readFileSync(files[0]!)));
}, 60_000);
afterAll(() => env.stop());

describe("inputs in an object store", () => {
  it("a folder of objects, read by range on sheaf run, equals the count over local copies and sheaf run over them", () => {
    const out = s.fresh("run");
    const r = sheaf(["run", WORDCOUNT, "-i", `s3://${store.bucket}/corpus/`, "-o", out, "--split-size", "64k", "--workdir", s.path("wd"), "-t", "2", "-q"]);
    expect(r.status, r.stderr).toBe(0);
    expectOracle(out, wordcountOracle(files));
    const local = s.fresh("local");
    expect(sheaf(["run", WORDCOUNT, "-i", ...files, "-o", local, "--split-size", "64k", "--workdir", s.path("wd"), "-t", "2", "-q"]).status).toBe(0);
    sameOutput(out, local);
  });

  it("a glob on keys and a gzip object, on a cluster", async () => {
    const out = s.fresh("cluster");
    const r = await cluster.run(["submit", WORDCOUNT, "-i", `s3://${store.bucket}/corpus/*.txt`, `s3://${store.bucket}/more/*.gz`, "-o", out, "--split-size", "64k", "--wait", "-q"], store.env);
    expect(r.code, r.output).toBe(0);
    expectOracle(out, wordcountOracle([...files, files[0]!]));
  });

  it("a pipeline stage reading objects is skipped on a rerun while their ETags hold, and runs again when one changes", async () => {
    const out = s.path("stage-out");
    const mod = s.write("objects-pipeline.ts", `import { definePipeline } from "sheaf";
import wordcount from ${JSON.stringify(WORDCOUNT)};
export default definePipeline({ name: "objects", stages: { count: { job: wordcount, input: "s3://${store.bucket}/pipe/", output: ${JSON.stringify(out)} } } });
`);
    const put = (body: string) => store.client().send(new PutObjectCommand({ Bucket: store.bucket, Key: "pipe/a.txt", Body: Buffer.from(body) }));
    const runIt = () => sheaf(["run", mod, "--workdir", s.path("wd"), "-q"]);
    const fingerprint = () => readFileSync(`${out}/_fingerprint`, "utf8");
    await put("one two two\n");
    expect(runIt().status).toBe(0);
    const first = fingerprint();
    const partTime = statSync(`${out}/part-00000`).mtimeMs;
    expect(runIt().status).toBe(0);
    expect(fingerprint()).toBe(first);
    expect(statSync(`${out}/part-00000`).mtimeMs, "skipped: the part was not written again").toBe(partTime);
    await put("one two three\n"); // same size, another ETag
    const third = runIt();
    expect(third.status, third.stderr).toBe(0);
    expect(fingerprint()).not.toBe(first);
    const counts = new Map<string, number>();
    for (const part of ["part-00000", "part-00001", "part-00002", "part-00003"]) {
      for (const line of readFileSync(`${out}/${part}`, "utf8").split("\n").filter(Boolean)) counts.set(line.split("\t")[0]!, Number(line.split("\t")[1]));
    }
    expect(Object.fromEntries(counts)).toEqual({ one: 1, two: 1, three: 1 });
  });

  it("an object that is not there: one line, nothing run", () => {
    const missing = sheaf(["run", WORDCOUNT, "-i", `s3://${store.bucket}/nothing/`, "-o", s.fresh("none"), "--workdir", s.path("wd")]);
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim()).toBe(`sheaf: input not found: s3://${store.bucket}/nothing/`);
  });
});
