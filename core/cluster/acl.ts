/**
 * The Redis ACL of a worker: what `sheaf worker` needs and nothing more, so a worker machine's
 * credentials cannot flush or reconfigure Redis, list its keys, touch another cluster's prefix, or
 * write what the coordinator owns. Found by experiment (MONITOR and ACL LOG under a worker) and
 * from the commands BullMQ's Lua scripts call, which Redis checks against the calling user too:
 * - keys: the task queue (`<prefix>:tasks:*`, BullMQ), a job's attempt count
 *   (`<prefix>:job:<id>:attempts`), what its attempts printed (`…:logs`; a job's timeline is the
 *   leader's, from the results workers send back), its own heartbeat (`<prefix>:worker:<id>`, `<prefix>:workers`), the count of
 *   refused messages (`<prefix>:rejected`); job records
 *   (`<prefix>:job:*`) read only: a worker checks that a job still runs, but cannot plan, start,
 *   cancel, restart or commit one. Channel: `<prefix>:events` (subscribe only: no PUBLISH);
 * - commands: reads and writes on those keys, EVALSHA and SCRIPT EXISTS but no EVAL or SCRIPT LOAD
 *   (so only the scripts a coordinator loaded run: no loop of the worker's own can freeze Redis;
 *   worker-scripts.ts), MULTI/EXEC, SUBSCRIBE, the connection handshake (HELLO, AUTH, CLIENT
 *   SETNAME, PING, QUIT) and INFO (BullMQ reads the server version and eviction policy);
 * - never: the @dangerous category (FLUSHALL, FLUSHDB, CONFIG, KEYS, DEBUG, SHUTDOWN, MIGRATE,
 *   RESTORE, SORT, ACL, CLIENT LIST/KILL, MONITOR, …) but INFO, SCAN and RANDOMKEY (they would
 *   list other clusters' keys), FUNCTION and FCALL, PUBLISH (a worker does not send events), and
 *   SELECT, MOVE, COPY (they reach the same prefix in another database: the worker works in db 0).
 */
import { SheafError } from "../errors.js";

/** The rules after `ACL SETUSER <user>`; `reset` first, so running it again replaces an older rule. */
export function workerAclRules(prefix: string, password: string): string[] {
  if (!/^[A-Za-z0-9_.-]+$/.test(prefix)) throw new SheafError("BAD_OPTION", `prefix must be letters, digits, '_', '.' or '-', got ${JSON.stringify(prefix)}`);
  if (!password || /\s/.test(password)) throw new SheafError("BAD_OPTION", "the password must be non-empty, without spaces");
  return [
    "reset", "on", `>${password}`,
    `~${prefix}:tasks:*`, `~${prefix}:job:*:attempts`, `~${prefix}:job:*:logs`, `~${prefix}:worker:*`, `~${prefix}:workers`, `%R~${prefix}:job:*`, `~${prefix}:rejected`, `&${prefix}:events`,
    "-@all", "+@read", "+@write", "-@dangerous", "-@scripting", "-scan", "-randomkey", "-move", "-copy",
    "+evalsha", "+script|exists",
    "+multi", "+exec", "+discard",
    "+subscribe", "+unsubscribe",
    "+hello", "+auth", "+client|setname", "+ping", "+quit",
    "+info",
  ];
}

/** The whole command, as `redis-cli` takes it. */
export function workerAclCommand(user: string, prefix: string, password: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(user)) throw new SheafError("BAD_OPTION", `user must be letters, digits, '_', '.' or '-', got ${JSON.stringify(user)}`);
  return ["ACL", "SETUSER", user, ...workerAclRules(prefix, password)].join(" ");
}
