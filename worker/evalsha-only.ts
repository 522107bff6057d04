/**
 * Makes this process's Redis clients run Lua scripts by EVALSHA only. ioredis sends a script's whole
 * text (EVAL) the first time on each connection, and again after NOSCRIPT; the worker's Redis user
 * may not EVAL (acl.ts: a script of its own could hold Redis busy for every client), so the scripts
 * it runs, BullMQ's, are loaded by the coordinator (coordinator/worker-scripts.ts), and a script not
 * loaded yet (a restarted Redis, before a coordinator reloads them) fails its call, which BullMQ
 * retries. Only for the worker process: its main thread holds no other client.
 */
import { Command, Redis } from "ioredis";

interface Scripting {
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number; readOnly?: boolean }): void;
  scriptsSet: Record<string, { Command: unknown }>;
}

let patched = false;

export function evalshaOnly(): void {
  if (patched) return;
  patched = true;
  const proto = Redis.prototype as unknown as Scripting;
  const define = proto.defineCommand;
  proto.defineCommand = function (this: Scripting, name, definition) {
    define.call(this, name, definition);
    // The plain command is sent as it was made, `EVALSHA <sha> …`, never turned into EVAL.
    this.scriptsSet[name]!.Command = Command;
  };
}
