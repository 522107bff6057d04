import { RecordBatchFileWriter, AsyncByteQueue, tableFromArrays, tableFromIPC, RecordBatchReader, RecordBatchStreamWriter } from "apache-arrow";
import { openSync, writeSync, closeSync, readFileSync } from "node:fs";
import { DuckDBInstance } from "@duckdb/node-api";
console.log(typeof AsyncByteQueue);
