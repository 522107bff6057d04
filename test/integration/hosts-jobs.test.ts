/**
 * Jobs on three hosts (network namespaces, test/integration/hosts.ts) whose inputs and outputs live
 * in the object store beside them: a coordinator on host0, a worker on host1 and one on host2, each
 * with a private tmpfs. Outputs an independent reader gets from the store (the manifest's parts)
 * must equal `sheaf run` over local files. The workdir (job code, intermediate files) is still one
 * folder that every host mounts: the hosts see the root filesystem.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until, writeCorpus } from "./fault-kit.js";
import { CLI, EXAMPLE_JOBS, partFiles, REPO, Scratch } from "./helpers.js";
import { Hosts, hostsUnavailable } from "./hosts.js";

const skip = hostsUnavailable();
const s = new Scratch("hosts-jobs");
let net: Hosts;
let files: string[] = [];
const workdir = () => s.path("shared-wd");

async function object(key: string): Promise<Buffer> {
  const r = await net.store!.client().send(new GetObjectCommand({ Bucket: net.store!.bucket, Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}
/** The output as an independent reader gets it from the store: the parts its manifest lists. */
async function manifestParts(prefix: string): Promise<Buffer[]> {
  const manifest = JSON.parse((await object(`${prefix}_SUCCESS`)).toString("utf8")) as { parts: { name: string }[] };
  return Promise.all(manifest.parts.map((p) => object(prefix + p.name)));
}
function runLocally(args: string[]): void {
  const r = spawnSync(process.execPath, [CLI, "run", ...args, "--workdir", s.path("local-wd"), "-q"], { cwd: REPO, encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
}

describe.skipIf(skip)("three hosts, inputs and outputs in the object store", () => {
  beforeAll(async () => {
    net = await Hosts.create("jobs", 3);
    files = writeCorpus(s, "corpus", 4, 150_000, 600, 3);
    for (const f of files) await net.store!.client().send(new PutObjectCommand({ Bucket: net.store!.bucket, Key: `in/${basename(f)}`, Body: readFileSync(f) }));
    const env = { SHEAF_WORKDIR: workdir() };
    const coordinator = net.hosts[0]!.sheaf(["coordinator", "--lease", "2000"], env);
    await until("the coordinator to lead", () => /leader \(epoch/.test(coordinator.output()), 20_000);
    for (const h of net.hosts.slice(1)) h.sheaf(["worker", "--threads", "1", "--lock", "3000"], env);
  }, 120_000);
  afterAll(async () => {
    await net?.destroy();
    s.cleanup();
  });

  it("word count: s3 in, s3 out, the parts equal sheaf run's on local files", async () => {
    const local = s.fresh("wc-local");
    runLocally([join(EXAMPLE_JOBS, "wordcount.ts"), "-i", ...files, "-o", local, "--split-size", "64k"]);
    const submit = net.hosts[0]!.sheaf(["submit", join(EXAMPLE_JOBS, "wordcount.ts"), "-i", `s3://${net.store!.bucket}/in/`, "-o", `s3://${net.store!.bucket}/wc/`, "--split-size", "64k", "--wait", "-q"], { SHEAF_WORKDIR: workdir() });
    expect(await submit.exited, submit.output()).toBe(0);
    expect(await manifestParts("wc/")).toEqual(partFiles(local).map((p) => p.bytes));
  }, 120_000);

  it("the ETL chain: CSV in the store → Parquet in the store → Parquet read back, equal to the chain on local folders", async () => {
    const orders = join(EXAMPLE_JOBS, "data/orders.csv");
    await net.store!.client().send(new PutObjectCommand({ Bucket: net.store!.bucket, Key: "raw/orders.csv", Body: readFileSync(orders) }));
    const [clean, revenue] = [s.fresh("clean"), s.fresh("revenue")];
    runLocally([join(EXAMPLE_JOBS, "clean-orders.ts"), "-i", orders, "-o", clean, "--split-size", "2k"]);
    runLocally([join(EXAMPLE_JOBS, "daily-revenue.ts"), "-i", clean, "-o", revenue, "--split-size", "2k"]);
    const env = { SHEAF_WORKDIR: workdir() };
    const b = `s3://${net.store!.bucket}`;
    const first = net.hosts[0]!.sheaf(["submit", join(EXAMPLE_JOBS, "clean-orders.ts"), "-i", `${b}/raw/orders.csv`, "-o", `${b}/etl/clean/`, "--split-size", "2k", "--wait", "-q"], env);
    expect(await first.exited, first.output()).toBe(0);
    const second = net.hosts[0]!.sheaf(["submit", join(EXAMPLE_JOBS, "daily-revenue.ts"), "-i", `${b}/etl/clean/`, "-o", `${b}/etl/revenue/`, "--split-size", "2k", "--wait", "-q"], env);
    expect(await second.exited, second.output()).toBe(0);
    expect(await manifestParts("etl/clean/")).toEqual(partFiles(clean).map((p) => p.bytes));
    expect(await manifestParts("etl/revenue/")).toEqual(partFiles(revenue).map((p) => p.bytes));
  }, 120_000);
});
