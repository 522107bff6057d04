/**
 * Redis connections for coordinator, workers and the CLI. Credentials and TLS come from the URL
 * (`rediss://user:password@host:port/db`); clients retry forever and log when they reconnect.
 */
import { readFileSync } from "node:fs";
import { Redis, type RedisOptions } from "ioredis";
import { messageWithCauses, SheafError } from "../errors.js";
import { noteCredentials, redactUrl } from "../security/credentials.js";

export { redactUrl };

export interface RedisLog {
  (message: string): void;
}

/**
 * The Redis URL: `--redis`, else `--redis-file`, else `SHEAF_REDIS_URL`, else `SHEAF_REDIS_URL_FILE`
 * (a file holding the URL). A password on the command line is visible to every user in `ps`; in the
 * environment or a file, only to the process's own user (and root).
 */
export function redisUrlFrom(flag: string | undefined, file?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag && file) throw new SheafError("BAD_ARGUMENT", "pass --redis or --redis-file, not both");
  const envUrl = env.SHEAF_REDIS_URL || undefined;
  const envFile = env.SHEAF_REDIS_URL_FILE || undefined;
  if (!flag && !file && envUrl && envFile) throw new SheafError("BAD_ARGUMENT", "set SHEAF_REDIS_URL or SHEAF_REDIS_URL_FILE, not both");
  const path = flag ? undefined : (file ?? (envUrl ? undefined : envFile));
  const url = flag || (path !== undefined ? readUrlFile(path, file ? "--redis-file" : "SHEAF_REDIS_URL_FILE") : envUrl);
  if (!url) throw new SheafError("NO_REDIS", "no Redis URL: pass --redis redis://host:port or --redis-file <path>, or set SHEAF_REDIS_URL or SHEAF_REDIS_URL_FILE");
  if (!/^rediss?:\/\//.test(url)) throw new SheafError("BAD_REDIS_URL", `not a Redis URL: ${redactUrl(url)} (expected redis://… or rediss://…)`);
  noteCredentials(url);
  return url;
}

function readUrlFile(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new SheafError("NO_REDIS", `${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const url = text.trim();
  if (!url || /\s/.test(url)) throw new SheafError("BAD_REDIS_URL", `${what}: ${path} must hold one Redis URL`);
  return url;
}

/**
 * A connection that BullMQ can share (`maxRetriesPerRequest: null`: commands wait through a
 * reconnect instead of failing), logging each loss and recovery of the link once.
 */
export function connectRedis(url: string, role: string, log?: RedisLog, extra: RedisOptions = {}): Redis {
  noteCredentials(url); // kept from the threads that run job code (jobThreadEnv)
  const client = new Redis(url, {
    maxRetriesPerRequest: null,
    connectionName: `sheaf-${role}`,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    ...(url.startsWith("rediss://") ? { tls: {} } : {}),
    ...extra,
  });
  let lost = false;
  client.on("error", (err: Error) => {
    if (!lost) log?.(`redis: connection to ${redactUrl(url)} lost (${err.message}); reconnecting`);
    lost = true;
  });
  client.on("close", () => {
    if (!lost && client.status !== "end") log?.(`redis: connection to ${redactUrl(url)} closed; reconnecting`);
    lost = client.status !== "end";
  });
  client.on("ready", () => {
    if (lost) log?.(`redis: reconnected to ${redactUrl(url)}`);
    lost = false;
  });
  return client;
}

/**
 * Resolves once `client` is connected; otherwise rejects within `timeoutMs` with one line naming
 * the server (its password hidden) and why: a CLI command facing an unreachable Redis says so at
 * once instead of retrying in silence.
 */
export function untilConnected(client: Redis, url: string, timeoutMs = 5_000): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  return new Promise((resolve, reject) => {
    let cause = "no answer";
    const onError = (err: Error) => void (cause = err.message);
    const done = (err?: Error) => {
      clearTimeout(timer);
      client.off("ready", onReady).off("error", onError).off("end", onEnd);
      if (err) reject(err);
      else resolve();
    };
    const fail = () => done(new SheafError("REDIS_UNREACHABLE", `cannot reach Redis at ${redactUrl(url)}: ${cause}`));
    const onReady = () => done();
    const onEnd = () => fail();
    const timer = setTimeout(fail, timeoutMs);
    client.on("ready", onReady).on("error", onError).on("end", onEnd);
  });
}

/** Network errors of a lost link, which connectRedis reports once per loss. */
const LINK_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTCONN"]);

/**
 * Logs the errors a BullMQ Queue, QueueEvents or Worker emits, except those of a lost link (its
 * connection reports the loss once, and BullMQ repeats it at every retry). Without a listener BullMQ
 * prints each as a bare stack trace.
 */
export function logQueueErrors(emitter: { on(event: "error", listener: (err: Error) => void): unknown }, what: string, log: RedisLog): void {
  // The same error again (a Redis held BUSY answers every call alike) is said once per REPEAT_MS
  // with how often it came: 22,000 identical lines in 30 s drown the log and fill the disk.
  let last = "";
  let lastAt = 0;
  let repeats = 0;
  emitter.on("error", (err: Error) => {
    const code = (err as { code?: string }).code;
    if ((code && LINK_ERRORS.has(code)) || /Connection is closed|connect E[A-Z]+/.test(err.message)) return;
    const text = `${what}: ${messageWithCauses(err)}`;
    const now = Date.now();
    if (text === last && now - lastAt < REPEAT_MS) {
      repeats++;
      return;
    }
    if (repeats) log(`${last} (${repeats} more times)`);
    log(text);
    last = text;
    lastAt = now;
    repeats = 0;
  });
}

const REPEAT_MS = 10_000;

/** Refuses a Redis that may evict keys: an evicted task or commit record would lose work silently. */
export async function checkEvictionPolicy(client: Redis): Promise<void> {
  const info = await client.info("memory");
  const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
  if (policy && policy !== "noeviction") {
    throw new SheafError(
      "REDIS_EVICTS",
      `Redis maxmemory-policy is ${policy}: under memory pressure it would evict queued tasks and commit records. Set it to noeviction (CONFIG SET maxmemory-policy noeviction, or in redis.conf)`,
    );
  }
}
