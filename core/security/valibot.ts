/**
 * valibot, loaded on first use. Every `sheaf run` and every worker thread's task code import modules
 * that hold schemas, but check a message only on some paths (a reduce task's list of map outputs, a
 * checkpoint, a message from Redis); loading valibot and building the schemas up front cost each of
 * them ~10 ms (40-60 ms on a loaded machine) before their first task. Loaded by require() (valibot's
 * CommonJS build), since the checks are synchronous.
 */
import { createRequire } from "node:module";

export type Valibot = typeof import("valibot");

let lib: Valibot | undefined;

export const valibot = (): Valibot => (lib ??= createRequire(import.meta.url)("valibot") as Valibot);

/** `build(valibot)`, called on the first call of the returned function and kept. */
export function lazily<T>(build: (v: Valibot) => T): () => T {
  let built: { value: T } | undefined;
  return () => (built ??= { value: build(valibot()) }).value;
}
