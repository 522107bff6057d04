// `npm run bench:hosts` (issue 19): Sheaf on hosts that share no filesystem, each figure against a
// baseline measured in the same run.
//
//  1. Word count (jobs/wordcount.ts, --partitions 2) over the Zipf corpus of bench/corpus.mjs on two
//     hosts: network namespaces from test/integration/hosts.ts, the very harness the multi-host
//     tests use, with Redis and an S3-compatible store (s3rver) beside their bridge. host0 runs the
//     coordinator and a worker, host1 a worker; each worker has one thread and keeps its map outputs
//     on its host's private tmpfs (--local-dir), served to reducers over HTTP. Input and output are
//     in the store. Timed: `sheaf submit --wait` from host0 (bundling, planning, the job, the commit),
//     with the coordinator and workers started fresh before it (untimed). Baseline: `sheaf run -t 2`
//     on the same corpus as a local file, to a local folder, with the same job, partitions and split
//     size. Diagnostic: `sheaf run -t 2` reading from and writing to the same store, which tells the
//     store's cost from the shuffle's. The bytes shuffled over HTTP are what the workers' shuffle
//     servers log when the job ends (worker/local-shuffle.ts); each host's link counters are shown beside.
//     Every output must be byte-identical to `sheaf run`'s, and its counts equal bench/scanner.mjs's.
//  2. The Parquet group-by of etl-groupby.mjs (bench/jobs/groupby-batch.ts, `sheaf run -t 2`)
//     reading the file from a store (s3rver on loopback; footer and row groups by ranged GETs)
//     against reading it from a local file: the same pair `npm run bench:etl` measures among others.
//
// Needs root (network namespaces and tmpfs mounts); fails with the harness's reason otherwise.
// Env: BENCH_SIZE (corpus, default 1g; e.g. 64m to try it), BENCH_RUNS (3), BENCH_ROWS (group-by
// rows, 10000000), BENCH_ONLY (`wordcount` or `groupby`: run one half).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { basename } from "node:path";
import { pathToFileURL } from "node:url";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { build } from "esbuild";
import { corpusPath, ensureCorpus } from "./corpus.mjs";
import {
  checkBuilt, checkIdle, childrenCpuSeconds, clean, cli, data as etlData, fail, machineCpuSeconds, measure, median, mib, parseSize, positiveInt, readOnce, root, runRounds, sheafArgs, startStore,
} from "./etl-common.mjs";
import { checkGroups, GROUPBY_SPLIT_SIZE, groupbyInput } from "./etl-groupby-data.mjs";
import { checkCounts, partFiles } from "./outputs.mjs";

const data = `${root}bench/data`;
const work = `${data}/hosts-work`;
const SEED = 42;
const size = parseSize("BENCH_SIZE", process.env.BENCH_SIZE ?? "1g");
const runs = positiveInt("BENCH_RUNS", 3);
const rows = positiveInt("BENCH_ROWS", 10_000_000);
const only = process.env.BENCH_ONLY;
if (only && only !== "wordcount" && only !== "groupby") fail(`BENCH_ONLY: expected wordcount or groupby, got ${JSON.stringify(only)}`);
// 64 MiB splits (the default) at 1 GiB: 16 map tasks. A smaller corpus gets smaller splits, so that
// both workers still have map tasks (and both contenders the same split size).
const splitSize = `${Math.max(1, Math.min(64, Math.floor(size / 16 / 2 ** 20)))}m`;
const SECRET = randomBytes(24).toString("hex");
const MB = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
checkBuilt();
// The AWS SDK's notice that its releases after January 2027 need Node 22 (README), once per process: noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

/**
 * test/integration/hosts.ts (and object-store.ts's readOutput), TypeScript, bundled by esbuild into
 * bench/data/ and imported: the bench runs the tests' harness as it is, nothing copied.
 */
async function loadHarness() {
  const dir = `${root}test/integration`;
  const outfile = `${data}/hosts-harness.mjs`;
  await build({
    stdin: { contents: 'export { Hosts, hostsUnavailable } from "./hosts.ts";\nexport { readOutput } from "./object-store.ts";\n', resolveDir: dir, loader: "ts" },
    bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", outfile, logLevel: "warning",
    // helpers.ts finds the repository (and the CLI) from its own URL: keep the sources' folder.
    define: { "import.meta.url": JSON.stringify(pathToFileURL(`${dir}/hosts.ts`).href) },
  });
  return import(pathToFileURL(outfile).href);
}

async function until(what, probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Bytes a host's link has carried, as the root namespace's end of its veth counts them (rx: what the host sent). */
function linkBytes(host) {
  const read = (f) => Number(readFileSync(`/sys/class/net/${host.link}/statistics/${f}`, "latin1"));
  return { sent: read("rx_bytes"), received: read("tx_bytes") };
}

/**
 * CPU seconds (user + system) of this process's children still running: Redis and the store, which
 * serve a whole round. Those that ended count in childrenCpuSeconds().
 */
function liveChildrenCpu() {
  let sum = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, "latin1").split(") ")[1].split(" ");
      if (Number(f[1]) === process.pid) sum += (Number(f[11]) + Number(f[12])) / 100; // ppid; utime + stime in 100 Hz ticks
    } catch {
      // gone meanwhile
    }
  }
  return sum;
}

/** measure(), with what Redis and the store spent meanwhile in its CPU seconds (and not in the share others used). */
async function measureAll(name, args, options) {
  const live = liveChildrenCpu();
  const m = await measure(name, args, options);
  const extra = liveChildrenCpu() - live;
  return { ...m, cpu: m.cpu + extra, others: Math.max(0, m.others - extra / (m.seconds * cpus().length)) };
}

/** What a worker's shuffle server logged for a job when it ended (worker/local-shuffle.ts). */
function servedFor(proc, jobId) {
  const m = new RegExp(`job ${jobId}: served (\\d+) bytes of map outputs in (\\d+) requests, (\\d+) bytes of them to other hosts`).exec(proc.output());
  return m && { bytes: Number(m[1]), requests: Number(m[2]), remoteBytes: Number(m[3]) };
}

/** Writes an output's parts as an independent reader gets them from the store (its manifest's) into a local folder. */
async function download(readOutput, store, prefix, folder) {
  const { names, parts } = await readOutput(store, prefix);
  clean(folder);
  mkdirSync(folder, { recursive: true });
  names.forEach((name, i) => writeFileSync(`${folder}/${name}`, parts[i]));
}

/** Fails unless `folder`'s part files are `reference`'s, partition for partition and byte for byte (a part in the store carries the job's name in its own). */
function sameParts(name, folder, reference) {
  const [a, b] = [partFiles(folder), partFiles(reference)];
  const index = (f) => /^part-(\d+)/.exec(basename(f))[1];
  const differs = a.length !== b.length || a.some((f, i) => index(f) !== index(b[i]) || !readFileSync(f).equals(readFileSync(b[i])));
  if (differs) fail(`${name}: its parts differ from sheaf run's (${a.map((f) => basename(f)).join(" ")} against ${b.map((f) => basename(f)).join(" ")})`);
}

/**
 * One job on two hosts: a coordinator on host0 and a one-thread worker on each host, keeping map
 * outputs on its private tmpfs, started fresh (untimed); then `sheaf <submitArgs> --wait -q` from
 * host0, timed; then the services stopped. Returns its seconds, the CPU seconds of everything it ran
 * (Redis and the store included), the share of the CPUs the rest of the machine used meanwhile, what
 * the workers served over HTTP, and each host's link counters.
 */
async function onTwoHosts(net, env, submitArgs, limitMs) {
  const [host0, host1] = net.hosts;
  const cpu0 = childrenCpuSeconds() + liveChildrenCpu(), machine0 = machineCpuSeconds(), servicesAt = performance.now();
  const coordinator = host0.sheaf(["coordinator"], env);
  const workers = [host0, host1].map((h) => h.sheaf(["worker", "--threads", "1", "--local-dir", `${h.localDir}/shuffle`], env));
  await until("the coordinator to lead", () => /leader \(epoch/.test(coordinator.output()), 30_000);
  await until("both workers", () => workers.every((w) => /ready:/.test(w.output())), 30_000);
  const links0 = net.hosts.map(linkBytes);
  const started = performance.now();
  const submit = host0.sheaf([...submitArgs, "--wait", "-q"], env);
  let timer;
  const status = await Promise.race([submit.exited, new Promise((r) => (timer = setTimeout(() => r("a timeout"), limitMs)))]);
  clearTimeout(timer);
  const seconds = (performance.now() - started) / 1000;
  if (status !== 0) fail(`two hosts: submit ended with ${status}:\n${submit.output()}\n--- worker host0:\n${workers[0].output()}\n--- worker host1:\n${workers[1].output()}`);
  const links = net.hosts.map((h, i) => ({ sent: linkBytes(h).sent - links0[i].sent, received: linkBytes(h).received - links0[i].received }));
  const jobId = submit.output().trim().split("\n")[0].trim();
  // The workers log what they served when the job's end reaches them (the event that ended the submit).
  // One that ran no map task serves nothing and logs nothing: waited for 5 s at most.
  const deadline = Date.now() + 5_000;
  while (!workers.every((w) => servedFor(w, jobId)) && Date.now() < deadline) await sleep(20);
  const served = workers.map((w) => servedFor(w, jobId) ?? { bytes: 0, requests: 0, remoteBytes: 0 });
  for (const p of [coordinator, ...workers]) p.child.kill("SIGTERM");
  await Promise.all([coordinator, ...workers].map((p) => p.exited));
  const sum = (k) => served.reduce((a, x) => a + x[k], 0);
  if (sum("bytes") === 0) fail(`two hosts: no worker logged bytes served for job ${jobId}`);
  const cpu = childrenCpuSeconds() + liveChildrenCpu() - cpu0;
  // Over the services' whole life (longer than `seconds`).
  const others = Math.max(0, machineCpuSeconds() - machine0 - cpu) / (((performance.now() - servicesAt) / 1000) * cpus().length);
  return { seconds, cpu, others, bytes: sum("bytes"), remoteBytes: sum("remoteBytes"), requests: sum("requests"), served, links };
}

async function wordcount() {
  const corpus = corpusPath(data, size, SEED);
  const t0 = performance.now();
  if (ensureCorpus(corpus, { bytes: size, seed: SEED })) console.log(`generated ${corpus} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const bytes = readOnce(corpus);
  const { Hosts, hostsUnavailable, readOutput } = await loadHarness();
  const reason = hostsUnavailable();
  if (reason) fail(reason);
  clean(work);
  mkdirSync(work, { recursive: true });

  // The oracle, once: every output's counts must equal the byte scanner's.
  const oracle = { name: "scanner -t 2", output: `${work}/scanner.tsv` };
  const scanned = spawnSync(process.execPath, [`${root}bench/scanner.mjs`, corpus, oracle.output, "--threads", "2"], { stdio: ["ignore", "inherit", "inherit"] });
  if (scanned.status !== 0) fail("bench/scanner.mjs failed");

  const net = await Hosts.create("bench", 2);
  try {
    const store = net.store;
    const key = `in/${basename(corpus)}`;
    const t1 = performance.now();
    await store.client().send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: createReadStream(corpus), ContentLength: bytes }));
    console.log(`put the corpus into the store (s3rver at ${store.endpoint}) in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    const input = `s3://${store.bucket}/${key}`;
    const job = ["--partitions", "2", "--split-size", splitSize];
    const runArgs = (i, o, wd) => [cli, "run", `${root}jobs/wordcount.ts`, "-i", i, "-o", o, ...job, "--threads", "2", "--overwrite", "-q", "--workdir", wd];
    // The workdir in the store too: the hosts share nothing but Redis and the store.
    const env = { SHEAF_WORKDIR: `s3://${store.bucket}/work`, SHEAF_SECRET: SECRET };
    const results = { run: [], runS3: [], hosts: [] };

    checkIdle();
    console.log(`word count over ${MB(bytes)} (${splitSize} splits, 2 partitions), ${runs} run(s) each; two hosts of one thread each against sheaf run -t 2`);
    for (let run = 1; run <= runs; run++) {
      // The baseline: a local file to a local folder.
      const local = `${work}/wc-run`;
      clean(local);
      const r = await measureAll("sheaf run -t 2", runArgs(corpus, local, `${work}/wd-run`));
      results.run.push(r);
      // Diagnostic: the same, from and to the store.
      const r3 = await measureAll("sheaf run -t 2, s3", runArgs(input, `s3://${store.bucket}/run-${run}/`, `${work}/wd-run`), { env: net.env });
      results.runS3.push(r3);
      await download(readOutput, store, `run-${run}/`, `${work}/wc-run-s3`);

      const h = await onTwoHosts(net, env, ["submit", `${root}jobs/wordcount.ts`, "-i", input, "-o", `s3://${store.bucket}/hosts-${run}/`, ...job], 120_000 + 10_000 * r.seconds);
      results.hosts.push(h);
      await download(readOutput, store, `hosts-${run}/`, `${work}/wc-hosts`);

      sameParts("sheaf run -t 2, s3", `${work}/wc-run-s3`, local);
      sameParts("two hosts", `${work}/wc-hosts`, local);
      checkCounts([oracle, { name: "sheaf run -t 2", output: local }]);
      const pct = (x) => `${(x * 100).toFixed(0)}%`;
      console.log(`  run ${run}: sheaf run -t 2 ${r.seconds.toFixed(2)} s (others used ${pct(r.others)} of the CPUs); sheaf run -t 2, s3 ${r3.seconds.toFixed(2)} s (${pct(r3.others)}); ` +
        `two hosts ${h.seconds.toFixed(2)} s (${pct(h.others)}), ${MB(h.bytes)} served over HTTP (${MB(h.remoteBytes)} between hosts, ${h.requests} requests); outputs equal`);
    }

    printWordcount(results, bytes);
  } finally {
    await net.destroy();
  }
}

/** The word count's table of medians and its ratios. */
function printWordcount(results, bytes) {
  const rate = (xs) => bytes / 1e6 / median(xs.map((x) => x.seconds));
  const table = [["sheaf run -t 2", results.run], ["sheaf run -t 2, s3 *", results.runS3], ["two hosts, s3", results.hosts]];
  console.log(`\n${"contender".padEnd(22)} ${"median s".padStart(9)} ${"MB/s".padStart(7)} ${"best s".padStart(7)} ${"CPU s".padStart(7)} ${"others".padStart(6)}   runs (s)`);
  for (const [name, xs] of table) {
    const s = xs.map((x) => x.seconds);
    console.log(`${name.padEnd(22)} ${median(s).toFixed(2).padStart(9)} ${rate(xs).toFixed(1).padStart(7)} ${Math.min(...s).toFixed(2).padStart(7)} ` +
      `${median(xs.map((x) => x.cpu)).toFixed(2).padStart(7)} ${`${(median(xs.map((x) => x.others)) * 100).toFixed(0)}%`.padStart(6)}   ${s.map((x) => x.toFixed(2)).join(" ")}`);
  }
  const noisy = [...results.run, ...results.runS3, ...results.hosts].some((x) => x.others > 0.1);
  const ratio = rate(results.hosts) / rate(results.run);
  console.log();
  console.log(`hosts two hosts (1 thread each) / sheaf run -t 2: ${ratio.toFixed(2)}x (target >= 0.8x)${ratio >= 0.8 ? "" : "  BELOW TARGET"}`);
  const best = (xs) => Math.min(...xs.map((x) => x.seconds));
  console.log(`hosts best against best *: two hosts / sheaf run -t 2: ${(best(results.run) / best(results.hosts)).toFixed(2)}x (the runs least disturbed by other processes)`);
  const cpu = (xs) => median(xs.map((x) => x.cpu));
  console.log(`hosts speed *: two hosts / sheaf run -t 2, s3: ${(rate(results.hosts) / rate(results.runS3)).toFixed(2)}x; sheaf run -t 2, s3 / sheaf run -t 2: ${(rate(results.runS3) / rate(results.run)).toFixed(2)}x`);
  console.log(`hosts CPU s *: two hosts / sheaf run -t 2: ${(cpu(results.hosts) / cpu(results.run)).toFixed(2)}x; sheaf run -t 2, s3 / sheaf run -t 2: ${(cpu(results.runS3) / cpu(results.run)).toFixed(2)}x ` +
    "(the work each costs, whatever else the machine runs)");
  const m = (k) => median(results.hosts.map((x) => x[k]));
  console.log(`hosts shuffled over HTTP per run: ${MB(m("bytes"))} in ${m("requests")} requests, ${MB(m("remoteBytes"))} of it between hosts ` +
    `(${(m("bytes") / bytes * 100).toFixed(2)}% of the input; by host: ${results.hosts.at(-1).served.map((s, i) => `host${i} ${MB(s.bytes)}`).join(", ")})`);
  const l = results.hosts.at(-1).links;
  console.log(`hosts links in the last run (input from the store, shuffle, Redis, output): ${l.map((x, i) => `host${i} received ${MB(x.received)}, sent ${MB(x.sent)}`).join("; ")}`);
  console.log("(MB/s of input over the median wall time: sheaf run a whole process; two hosts the submit --wait process, services started before it; " +
    "CPU s = user + system of the sheaf processes (submit, coordinator and workers for two hosts), Redis and s3rver; others = the median share of the CPUs other processes used; * = diagnostic; " +
    "outputs byte-identical to sheaf run's, counts equal to scanner.mjs's)");
  if (noisy) console.log("warning: other processes were busy during some runs (see above); the figures are noisy");
}

async function groupby() {
  const { input, rowGroup } = await groupbyInput(rows);
  const bytes = readOnce(input);
  const store = await startStore(`${etlData}/s3rver`, input);
  const split = ["--split-size", GROUPBY_SPLIT_SIZE];
  const contenders = [
    { name: "sheaf mapBatch -t 2", output: `${work}/groupby-local`, args: (o) => sheafArgs("groupby-batch.ts", input, o, 2, split) },
    { name: "sheaf mapBatch -t 2, s3", output: `${work}/groupby-s3`, env: store.env, args: (o) => sheafArgs("groupby-batch.ts", store.url, o, 2, split) },
  ];
  mkdirSync(work, { recursive: true });
  checkIdle();
  console.log(`\ngroup-by over ${rows.toLocaleString("en-US")} rows of Parquet (${MB(bytes)}, ${Math.ceil(rows / rowGroup)} row groups), ${runs} run(s) each; ` +
    `from the store (s3rver on loopback) against a local file; sheaf --split-size ${GROUPBY_SPLIT_SIZE}`);
  const noisy = (await runRounds(contenders, runs, (cs) => checkGroups(cs, rows)).finally(() => store.stop())) > 0.1;
  const [local, s3] = contenders.map((c) => ({ ...c, s: median(c.seconds) }));
  console.log(`\n${"contender".padEnd(24)} ${"median s".padStart(9)} ${"Mrows/s".padStart(8)} ${"peak RSS".padStart(9)}   runs (s)`);
  for (const c of [local, s3]) {
    console.log(`${c.name.padEnd(24)} ${c.s.toFixed(2).padStart(9)} ${(rows / c.s / 1e6).toFixed(2).padStart(8)} ${mib(Math.max(...c.rss)).padStart(9)}   ${c.seconds.map((x) => x.toFixed(2)).join(" ")}`);
  }
  console.log(`\netl-groupby sheaf mapBatch -t 2 from the store / from a local file: ${(local.s / s3.s).toFixed(2)}x (rows/s; outputs verified equal)`);
  if (noisy) console.log("warning: other processes were busy during some runs (see above); the figures are noisy");
}

if (only !== "groupby") await wordcount();
if (only !== "wordcount") await groupby();
