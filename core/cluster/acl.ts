/**
 * The Redis ACL of a worker: what `sheaf worker` needs and nothing more, so a worker machine's
 * credentials cannot flush or reconfigure Redis, list its keys, or touch another cluster's prefix.
 * Found by experiment (MONITOR and ACL LOG under a worker) and from the commands BullMQ's Lua
 * scripts call, which Redis checks against the calling user too:
 * - keys: the task queue (`<prefix>:tasks:*`, BullMQ) and job records (`<prefix>:job:*`, where a
 *   worker counts failed attempts and reads whether a job still runs), the count of refused
 *   messages (`<prefix>:rejected`); channel: `<prefix>:events` (subscribe only: no PUBLISH);
 * - commands: reads and writes on those keys (BullMQ's scripts; BZPOPMIN blocks), EVAL/EVALSHA and
 *   SCRIPT LOAD/EXISTS, MULTI/EXEC, SUBSCRIBE, the connection handshake (HELLO, AUTH, SELECT,
 *   CLIENT SETNAME, PING, QUIT) and INFO (BullMQ reads the server version and eviction policy);
 * - never: the @dangerous category (FLUSHALL, FLUSHDB, CONFIG, KEYS, DEBUG, SHUTDOWN, MIGRATE,
 *   RESTORE, SORT, ACL, CLIENT LIST/KILL, MONITOR, …) but INFO, SCAN and RANDOMKEY (they would
 *   list other clusters' keys), FUNCTION (server-wide), PUBLISH (a worker does not send events).
 */

/** The rules after `ACL SETUSER <user>`; `reset` first, so running it again replaces an older rule. */
export function workerAclRules(prefix: string, password: string): string[] {
  if (!/^[A-Za-z0-9_.-]+$/.test(prefix)) throw new TypeError(`prefix must be letters, digits, '_', '.' or '-', got ${JSON.stringify(prefix)}`);
  if (!password || /\s/.test(password)) throw new TypeError("the password must be non-empty, without spaces");
  return [
    "reset", "on", `>${password}`,
    `~${prefix}:tasks:*`, `~${prefix}:job:*`, `~${prefix}:rejected`, `&${prefix}:events`,
    "-@all", "+@read", "+@write", "-@dangerous", "-scan", "-randomkey",
    "-function|delete", "-function|flush", "-function|load", "-function|restore",
    "+eval", "+evalsha", "+script|load", "+script|exists",
    "+multi", "+exec", "+discard",
    "+subscribe", "+unsubscribe",
    "+hello", "+auth", "+select", "+client|setname", "+ping", "+quit",
    "+info",
  ];
}

/** The whole command, as `redis-cli` takes it. */
export function workerAclCommand(user: string, prefix: string, password: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(user)) throw new TypeError(`user must be letters, digits, '_', '.' or '-', got ${JSON.stringify(user)}`);
  return ["ACL", "SETUSER", user, ...workerAclRules(prefix, password)].join(" ");
}
