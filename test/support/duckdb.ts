/** DuckDB as an independent tool in tests: it writes fixtures Sheaf did not write, and reads back what Sheaf wrote. */
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";

let connection: Promise<DuckDBConnection> | undefined;

function connect(): Promise<DuckDBConnection> {
  connection ??= DuckDBInstance.create(":memory:", { threads: "2" }).then((db) => db.connect());
  return connection;
}

/** Runs a statement (COPY … TO, CREATE …). */
export async function duckRun(sql: string): Promise<void> {
  await (await connect()).run(sql);
}

/** Rows as plain objects with JavaScript values: BIGINT → bigint, DOUBLE → number, VARCHAR → string, NULL → null; others as text. */
export async function duckRows(sql: string): Promise<Record<string, unknown>[]> {
  const reader = await (await connect()).runAndReadAll(sql);
  return reader.getRowObjectsJS() as Record<string, unknown>[];
}

/** SQL string literal. */
export function sqlText(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
