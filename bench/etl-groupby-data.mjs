// The Parquet group-by's input and its check, shared by etl-groupby.mjs and hosts.mjs: a file of
// `rows` rows (id int64, country string of 50 values, category int32 of 20 values, amount float64;
// zstd, 10 row groups), written by DuckDB once per row count into bench/data/etl/; and the check
// that every contender found the same groups.
import { readdirSync, readFileSync } from "node:fs";
import { data, duckdb, ensureFile, fail, sqlString } from "./etl-common.mjs";

const VERSION = 1; // bump when the generated data changes
/** Sheaf's split size for the file in hosts.mjs: each row group (~6.5 MB at 10 M rows) a map task of its own (the default does the same since the planner groups no more than a fair share per thread). */
export const GROUPBY_SPLIT_SIZE = "1m";

const COUNTRIES = ["US", "CN", "JP", "DE", "IN", "GB", "FR", "IT", "BR", "CA", "RU", "KR", "AU", "ES", "MX", "ID", "NL", "SA", "TR", "CH",
  "PL", "TW", "BE", "SE", "IE", "AR", "NO", "AT", "IL", "TH", "AE", "NG", "EG", "SG", "MY", "PH", "BD", "VN", "DK", "CO",
  "ZA", "HK", "RO", "CZ", "CL", "FI", "PK", "PT", "NZ", "PE"];

/** The group-by input of `rows` rows, generated unless it exists: its path and row group size. */
export async function groupbyInput(rows) {
  const rowGroup = Math.min(1_000_000, Math.ceil(rows / 10));
  const input = `${data}/groupby-v${VERSION}-${rows}.parquet`;
  const genStart = performance.now();
  const generated = await ensureFile(input, async (tmp) => {
    const db = await duckdb();
    await db.run(`COPY (
      SELECT i::BIGINT AS id,
        [${COUNTRIES.map(sqlString).join(", ")}][1 + (hash(i) % ${COUNTRIES.length})::INTEGER] AS country,
        (hash(i + 1000000000) % 20)::INTEGER AS category,
        (hash(i + 2000000000) % 1000000)::DOUBLE / 100 AS amount
      FROM range(${rows}) t(i)
    ) TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${rowGroup})`);
  });
  if (generated) console.log(`generated ${input} in ${((performance.now() - genStart) / 1000).toFixed(1)} s`);
  return { input, rowGroup };
}

/** Reads `country,category,n,sum,mean` CSV (a file, or every part file of a Sheaf output folder) into a Map. */
function readGroups(output) {
  const files = output.endsWith(".csv") ? [output] : readdirSync(output).filter((f) => f.startsWith("part-")).map((f) => `${output}/${f}`);
  const groups = new Map();
  for (const file of files) {
    const [header, ...lines] = readFileSync(file, "utf8").split("\n");
    if (header !== "country,category,n,sum,mean") fail(`${file}: unexpected header ${JSON.stringify(header)}`);
    for (const line of lines) {
      if (!line) continue;
      const [country, category, n, sum, mean] = line.split(",");
      const key = `${country},${category}`;
      const g = { n: Number(n), sum: Number(sum), mean: Number(mean) };
      if (groups.has(key) || !Number.isInteger(g.n) || !Number.isFinite(g.sum) || !Number.isFinite(g.mean)) fail(`${file}: bad or repeated line ${JSON.stringify(line)}`);
      groups.set(key, g);
    }
  }
  return groups;
}

/** Fails unless every contender found the same groups as the first, with the same counts (adding up to `rows`), and sums and means equal within 1e-9 relative. */
export function checkGroups([reference, ...others], rows) {
  const expected = readGroups(reference.output);
  const total = [...expected.values()].reduce((a, g) => a + g.n, 0);
  if (total !== rows) fail(`${reference.name} counted ${total} rows, not ${rows}`);
  const close = (a, b) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  for (const c of others) {
    const got = readGroups(c.output);
    const bad = [...new Set([...expected.keys(), ...got.keys()])].filter((k) => {
      const e = expected.get(k), g = got.get(k);
      return !e || !g || e.n !== g.n || !close(e.sum, g.sum) || !close(e.mean, g.mean);
    });
    if (bad.length) {
      const show = (g) => (g ? `${g.n}/${g.sum}/${g.mean}` : "missing");
      fail(`${c.name} differs from ${reference.name} on ${bad.length} groups (n/sum/mean), e.g. ` +
        bad.slice(0, 3).map((k) => `${k}: ${show(got.get(k))} vs ${show(expected.get(k))}`).join("; "));
    }
  }
}
