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
/** Set while this thread waits for the module another thread compiles (awaitParquetWasmModule). */
let handTo: ((module: WebAssembly.Module | undefined) => void) | undefined;

const compile = (): Promise<WebAssembly.Module> =>
  readFile(createRequire(import.meta.url).resolve("parquet-wasm/esm/parquet_wasm_bg.wasm")).then((bytes) => WebAssembly.compile(bytes));

/** The module: the one handed to this thread (waiting for it if it is coming), else compiled here, once. */
export function parquetWasmModule(): Promise<WebAssembly.Module> {
  compiled ??= compile();
  return compiled;
}

/**
 * Another thread of this process is compiling the module and will hand it over (handParquetWasmModule):
 * parquetWasmModule() waits for it rather than compiling its own, so that this thread can load the
 * Parquet code meanwhile.
 */
export function awaitParquetWasmModule(): void {
  if (compiled) return;
  compiled = new Promise<WebAssembly.Module | undefined>((resolve) => (handTo = resolve)).then((module) => module ?? compile());
}

/** The module compiled by another thread; undefined if it failed there, and this thread compiles its own. */
export function handParquetWasmModule(module: WebAssembly.Module | undefined): void {
  if (handTo) handTo(module);
  else if (module) compiled ??= Promise.resolve(module);
  handTo = undefined;
}

/** The module for a job with these formats, compiling it if needed; undefined if none is Parquet. */
export function parquetWasmFor(formats: readonly (InputFormat | OutputFormat)[]): Promise<WebAssembly.Module> | undefined {
  return formats.some((f) => f.format === "parquet") ? parquetWasmModule() : undefined;
}
