/**
 * Redis connections for coordinator, workers and the CLI. Credentials and TLS come from the URL
 * (`rediss://user:password@host:port/db`); clients retry forever and log when they reconnect.
 */
import { Redis, type RedisOptions } from "ioredis";
import { messageWithCauses, SheafError } from "../errors.js";

export interface RedisLog {
  (message: string): void;
}

export function redisUrlFrom(flag: string | undefined): string {
  const url = flag ?? process.env.SHEAF_REDIS_URL;
  if (!url) throw new SheafError("NO_REDIS", "no Redis URL: pass --redis redis://host:port or set SHEAF_REDIS_URL");
  if (!/^rediss?:\/\//.test(url)) throw new SheafError("BAD_REDIS_URL", `not a Redis URL: ${url} (expected redis://… or rediss://…)`);
  return url;
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

/**
 * A connection that BullMQ can share (`maxRetriesPerRequest: null`: commands wait through a
 * reconnect instead of failing), logging each loss and recovery of the link once.
 */
export function connectRedis(url: string, role: string, log?: RedisLog, extra: RedisOptions = {}): Redis {
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

/** Network errors of a lost link, which connectRedis reports once per loss. */
const LINK_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTCONN"]);

/**
 * Logs the errors a BullMQ Queue, QueueEvents or Worker emits, except those of a lost link (its
 * connection reports the loss once, and BullMQ repeats it at every retry). Without a listener BullMQ
 * prints each as a bare stack trace.
 */
export function logQueueErrors(emitter: { on(event: "error", listener: (err: Error) => void): unknown }, what: string, log: RedisLog): void {
  emitter.on("error", (err: Error) => {
    const code = (err as { code?: string }).code;
    if ((code && LINK_ERRORS.has(code)) || /Connection is closed|connect E[A-Z]+/.test(err.message)) return;
    log(`${what}: ${messageWithCauses(err)}`);
  });
}

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
