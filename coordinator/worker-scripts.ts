/**
 * Loads into Redis's script cache every Lua script a worker runs (BullMQ's), at start and after every
 * reconnect (a restarted Redis has an empty cache). The worker's Redis user may only EVALSHA, never
 * EVAL or SCRIPT LOAD (acl.ts), so a worker runs only these scripts: none of its own can hold Redis
 * busy. Until a coordinator has loaded them, a worker's calls are refused and retried.
 */
import { createRequire } from "node:module";
import type { Redis } from "ioredis";
import { messageOf } from "../core/errors.js";

interface Script {
  name: string;
  content: string;
}

const scripts = (): Script[] => Object.values(createRequire(import.meta.url)("bullmq/dist/cjs/scripts/index.js") as Record<string, Script>);

export async function loadWorkerScripts(redis: Redis): Promise<void> {
  const pipe = redis.pipeline();
  for (const s of scripts()) pipe.script("LOAD", s.content);
  for (const [err] of (await pipe.exec()) ?? []) if (err) throw err;
}

/** Loads them now, and again each time `redis` reconnects. */
export async function keepWorkerScriptsLoaded(redis: Redis, log: (m: string) => void): Promise<void> {
  redis.on("ready", () => void loadWorkerScripts(redis).catch((err) => log(`cannot load the workers' scripts: ${messageOf(err)}`)));
  await loadWorkerScripts(redis);
}
