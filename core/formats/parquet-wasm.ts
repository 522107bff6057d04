/**
 * parquet-wasm's WebAssembly module, compiled once per process: the main thread compiles it as soon
 * as it knows a job reads or writes Parquet (off its JS thread: WebAssembly.compile) and hands it to
 * the pool's threads (ThreadPool.prepare), which instantiate it (~3 ms) instead of compiling the
 * 5 MB module each (20-60 ms). A thread handed none (a cluster worker's, one started after the word)
 * compiles its own.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { InputFormat, OutputFormat } from "../api/formats.js";

// The project's libs ("ES2023", node) declare no WebAssembly global: what is used of it here.
declare global {
  namespace WebAssembly {
    function compile(bytes: Uint8Array): Promise<Module>;
  }
}

let compiled: Promise<WebAssembly.Module> | undefined;

/** The module: the one handed to this thread, else compiled here, once. */
export function parquetWasmModule(): Promise<WebAssembly.Module> {
  compiled ??= readFile(createRequire(import.meta.url).resolve("parquet-wasm/esm/parquet_wasm_bg.wasm")).then((bytes) => WebAssembly.compile(bytes));
  return compiled;
}

/** Takes a module compiled by another thread of this process, unless this one has its own already. */
export function useParquetWasmModule(module: WebAssembly.Module): void {
  compiled ??= Promise.resolve(module);
}

/** The module for a job with these formats, compiling it if needed; undefined if none is Parquet. */
export function parquetWasmFor(formats: readonly (InputFormat | OutputFormat)[]): Promise<WebAssembly.Module> | undefined {
  return formats.some((f) => f.format === "parquet") ? parquetWasmModule() : undefined;
}
