/**
 * The Lua half of the cluster's Redis protocol: one script per `.lua` file beside this one, defined
 * on a connection with ioredis `defineCommand` (EVALSHA, loading the script once where Redis lacks
 * it). Nothing else in Sheaf sends Lua. A fenced script starts with fence.lua; a script that ends or
 * queues a record gets records.lua's functions, so a record is queued and ended one way only.
 */
import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";
import { SheafError } from "../../errors.js";
import { Keys } from "../keys.js";
import { SCHEDULE_HISTORY } from "./fields.js";

interface ScriptSpec {
  /** How many of the arguments are keys (the fence's two included). */
  keys: number;
  /** Starts with the fence: KEYS[1..2] the lease and epoch, ARGV[1..2] the holder and epoch; -1 when refused. */
  fenced?: boolean;
  /** Uses end_record / queue_record. */
  records?: boolean;
}

const SCRIPTS = {
  guard: { keys: 2, fenced: true },
  start: { keys: 3, fenced: true },
  "set-field": { keys: 3, fenced: true },
  commit: { keys: 3, fenced: true },
  uncommit: { keys: 3, fenced: true },
  plan: { keys: 3, fenced: true },
  "finish-job": { keys: 5, fenced: true, records: true },
  "finish-run": { keys: 4, fenced: true, records: true },
  "stage-job": { keys: 6, fenced: true, records: true },
  fire: { keys: 10, fenced: true, records: true },
  "schedule-ended": { keys: 4, fenced: true },
  submit: { keys: 3, records: true },
  cancel: { keys: 3, records: true },
  prune: { keys: 2 },
  "lease-renew": { keys: 1 },
  "lease-release": { keys: 1 },
} satisfies Record<string, ScriptSpec>;

export type ScriptName = keyof typeof SCRIPTS;
export const SCRIPT_NAMES = Object.keys(SCRIPTS) as ScriptName[];

/** Names the Lua text takes from TypeScript, as `{{name}}`, so the two cannot drift apart. */
const CONSTANTS: Record<string, string> = {
  unfinished: Keys.unfinished(""),
  finished: Keys.finished(""),
  history_last: String(SCHEDULE_HISTORY - 1),
};

const texts = new Map<string, string>();
const read = (file: string): string => {
  let text = texts.get(file);
  if (text === undefined) texts.set(file, (text = readFileSync(new URL(`./lua/${file}`, import.meta.url), "utf8")));
  return text;
};

/** A script's whole text: its preludes, then its body, constants filled in. */
export function scriptSource(name: ScriptName): string {
  const spec: ScriptSpec = SCRIPTS[name];
  const text = [spec.records ? read("records.lua") : "", spec.fenced ? read("fence.lua") : "", read(`${name}.lua`)].join("\n");
  return text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = CONSTANTS[key];
    if (value === undefined) throw new SheafError("INTERNAL", `${name}.lua: unknown constant {{${key}}}`);
    return value;
  });
}

const commandOf = (name: ScriptName) => `sheaf_${name.replace(/-/g, "_")}`;
const defined = new WeakSet<Redis>();

/** Runs script `name` with `keys` and `args` on `redis`, defining every script there the first time. */
export function runScript(redis: Redis, name: ScriptName, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  if (keys.length !== SCRIPTS[name].keys) throw new SheafError("INTERNAL", `${name}.lua takes ${SCRIPTS[name].keys} keys, given ${keys.length}`);
  if (!defined.has(redis)) {
    for (const script of SCRIPT_NAMES) redis.defineCommand(commandOf(script), { numberOfKeys: SCRIPTS[script].keys, lua: scriptSource(script) });
    defined.add(redis);
  }
  const command = (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[commandOf(name)]!;
  return command.call(redis, ...keys, ...args);
}
