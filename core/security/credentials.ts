/**
 * The cluster's credentials, kept out of messages and out of the threads that run job code.
 * Dependency-free: the thread pool of `sheaf run` imports it without loading ioredis.
 *
 * Scrubbing a thread's environment keeps the credentials from job code that reads `process.env` (or
 * hands it to a child process, a logger, a telemetry client); it is not a sandbox: job code runs in
 * the same process and can still read /proc/self/environ, /proc/self/mem and any file the process can.
 */

/** The engine's own secrets: never in the environment of a thread that runs job code. */
export const ENGINE_SECRETS: readonly string[] = ["SHEAF_SECRET", "SHEAF_KEYS", "SHEAF_REDIS_URL", "SHEAF_REDIS_URL_FILE", "SHEAF_UI_TOKEN"];

/** Query parameters that carry a credential: ioredis takes `?password=` (and `sentinelPassword`) as options. */
const SECRET_PARAM = /pass|pwd|secret|token|auth|key/i;
const QUERY_PARAM = /([?&;])([^=&;#]*)=([^&;#]*)/g;

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const isSecretParam = (name: string) => SECRET_PARAM.test(decoded(name));

/**
 * The URL with every password replaced by `***`: the userinfo's password (with or without a user
 * name), and `?password=` (or any parameter named like a credential). Works on text that is not a
 * valid URL too (a wrong scheme, no scheme, an unencoded `@`, `/` or `?` in a password), since
 * that is what error messages print.
 */
export function redactUrl(url: string): string {
  const start = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0].length ?? (url.startsWith("//") ? 2 : 0);
  // The userinfo ends at the last '@' before the first credential parameter (a '@' inside
  // `?password=a@b` belongs to that password), so a password holding '/', '?' or '@' is hidden whole.
  let firstSecretParam = url.length;
  for (const m of url.matchAll(QUERY_PARAM)) {
    if (isSecretParam(m[2]!)) {
      firstSecretParam = m.index;
      break;
    }
  }
  const at = url.lastIndexOf("@", firstSecretParam - 1);
  let head = url.slice(0, start);
  let rest = url.slice(start);
  if (at >= start) {
    const userinfo = url.slice(start, at);
    const colon = userinfo.indexOf(":");
    head += colon >= 0 ? `${userinfo.slice(0, colon)}:***` : userinfo; // no ':': a user name alone, as ioredis reads it
    rest = url.slice(at);
  }
  return head + rest.replace(QUERY_PARAM, (whole, sep: string, name: string) => (isSecretParam(name) ? `${sep}${name}=***` : whole));
}

/** The Redis URLs this process connects with, and the passwords in them. */
const noted = new Set<string>();

/** Records `url`'s credentials, so that jobThreadEnv() leaves out whatever holds them. */
export function noteCredentials(url: string): void {
  noted.add(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return;
  }
  for (const password of [parsed.password, decoded(parsed.password)]) if (password) noted.add(password);
  for (const [name, value] of parsed.searchParams) if (value && isSecretParam(name)) noted.add(value);
}

/** A password this short would match unrelated values; only an exact match drops a variable then. */
const MIN_SUBSTRING = 4;

/**
 * The environment for a thread that runs job code: `env` without the engine's secrets
 * (ENGINE_SECRETS) and without any variable whose value holds a noted Redis URL or password (an
 * operator's own REDIS_URL for the cluster, say). Everything else stays: job code reads
 * DATABASE_URL, PG*, AWS_* and the like.
 */
export function jobThreadEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const secrets = [...noted];
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || ENGINE_SECRETS.includes(name)) continue;
    if (secrets.some((s) => value === s || (s.length >= MIN_SUBSTRING && value.includes(s)))) continue;
    out[name] = value;
  }
  return out;
}
