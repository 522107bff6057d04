// The hand-written baseline of bench/etl-groupby.mjs: the same libraries as Sheaf (parquet-wasm
// decodes, apache-arrow reads the batches), no engine. Streams the file in batches of 64 Ki rows,
// reading only the three columns it needs, and aggregates each batch with the same loop as the
// Sheaf fast-path job (bench/jobs/groupby-kernel.mjs) into one table of
// (country, category) → { n, sum }; writes `country,category,n,sum,mean` as CSV.
//
//   node bench/etl-groupby-loop.mjs <file.parquet> <out.csv> [--all-columns] [--threads N]
//
// --all-columns decodes every column (the int64 id too), as Sheaf's parquet() input does.
// --threads N (a diagnostic, default 1) deals the row groups round-robin to N worker threads, each
// aggregating its share, and merges their tables: what two threads give on this machine with no
// engine in between.
import { openAsBlob, writeFileSync } from "node:fs";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { tableFromIPC } from "apache-arrow";
import * as pw from "parquet-wasm/node";
import { aggregateBatch, forEachGroup, Interner } from "./jobs/groupby-kernel.mjs";

/** Aggregates the given row groups (all when undefined): [country, category, n, sum] per group. */
async function aggregate(input, allColumns, rowGroups) {
  const file = await pw.ParquetFile.fromFile(await openAsBlob(input));
  const stream = await file.stream({
    batchSize: 65_536,
    ...(allColumns ? {} : { columns: ["country", "category", "amount"] }),
    ...(rowGroups ? { rowGroups } : {}),
  });
  const interner = new Interner();
  const groups = [];
  for await (const wasmBatch of stream) {
    // Copies the batch out of wasm memory (freeing it there) as IPC bytes that apache-arrow reads.
    const table = tableFromIPC(wasmBatch.intoIPCStream());
    for (const batch of table.batches) aggregateBatch(batch, interner, groups);
  }
  file.free();
  const out = [];
  forEachGroup(interner, groups, (country, category, { n, sum }) => out.push([country, category, n, sum]));
  return out;
}

if (!isMainThread) {
  const { input, allColumns, rowGroups } = workerData;
  parentPort.postMessage(await aggregate(input, allColumns, rowGroups));
} else {
  const args = process.argv.slice(2);
  const allColumns = args.includes("--all-columns");
  const t = args.indexOf("--threads");
  const threads = t >= 0 ? Number(args[t + 1]) : 1;
  const [input, output, ...rest] = args.filter((a, i) => a !== "--all-columns" && (t < 0 || (i !== t && i !== t + 1)));
  if (!input || !output || rest.length || !(Number.isInteger(threads) && threads >= 1)) {
    console.error("usage: node bench/etl-groupby-loop.mjs <file.parquet> <out.csv> [--all-columns] [--threads N]");
    process.exit(2);
  }

  let parts;
  if (threads === 1) parts = [await aggregate(input, allColumns)];
  else {
    const meta = (await pw.ParquetFile.fromFile(await openAsBlob(input))).metadata();
    const shares = Array.from({ length: threads }, () => []);
    for (let g = 0; g < meta.numRowGroups(); g++) shares[g % threads].push(g);
    parts = await Promise.all(shares.map((rowGroups) => new Promise((resolve, reject) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { input, allColumns, rowGroups } });
      w.once("message", resolve);
      w.once("error", reject);
    })));
  }

  const merged = new Map();
  for (const part of parts) {
    for (const [country, category, n, sum] of part) {
      const key = `${country},${category}`;
      const acc = merged.get(key);
      if (acc) {
        acc.n += n;
        acc.sum += sum;
      } else merged.set(key, { n, sum });
    }
  }
  let csv = "country,category,n,sum,mean\n";
  for (const [key, { n, sum }] of merged) csv += `${key},${n},${sum},${sum / n}\n`;
  writeFileSync(output, csv);
}
