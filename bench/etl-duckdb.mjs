// The DuckDB contender of the ETL benchmarks, as a process of its own: runs each argument as one SQL
// statement, in order, on a fresh in-memory database (e.g. "SET threads = 2", then a COPY).
//
//   node bench/etl-duckdb.mjs "SET threads = 2" "COPY (SELECT …) TO 'out.csv'"
import { DuckDBInstance } from "@duckdb/node-api";

const statements = process.argv.slice(2);
if (statements.length === 0) {
  console.error("usage: node bench/etl-duckdb.mjs <sql> [<sql>…]");
  process.exit(2);
}
const db = await DuckDBInstance.create(":memory:");
const connection = await db.connect();
for (const sql of statements) await connection.run(sql);
connection.closeSync();
