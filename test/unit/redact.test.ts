/**
 * Credentials kept out of messages and job threads (red-team findings 8 and 10): redactUrl for each
 * shape of Redis URL (and the text that is not one), redisUrlFrom's sources and its wrong-scheme
 * error, the environment given to threads that run job code, and `sheaf status` text from Redis
 * printed without terminal controls.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { JobRecord } from "../../core/cluster/jobs.js";
import { redactUrl, redisUrlFrom } from "../../core/cluster/redis.js";
import type { RunRecord } from "../../core/cluster/runs.js";
import { jobThreadEnv, noteCredentials } from "../../core/security/credentials.js";
import { printable, renderJob, renderJobTable, renderRun } from "../../runner/status.js";

describe("redactUrl", () => {
  const cases: [string, string][] = [
    ["redis://user:hunter22@redis.internal:6379/0", "redis://user:***@redis.internal:6379/0"],
    ["rediss://:hunter22@redis.internal:6380", "rediss://:***@redis.internal:6380"],
    ["redis://user@redis.internal/0?password=hunter22", "redis://user@redis.internal/0?password=***"],
    ["redis://redis.internal/0?db=1&password=hunter22&family=6", "redis://redis.internal/0?db=1&password=***&family=6"],
    ["redis://redis.internal?sentinelPassword=hunter22", "redis://redis.internal?sentinelPassword=***"],
    ["redis://redis.internal?pass%77ord=hunter22", "redis://redis.internal?pass%77ord=***"],
    // Unencoded '@', '/', '?' and '#' in a password: hidden whole, not cut at the first of them.
    ["redis://user:hun@ter/22@redis.internal:6379", "redis://user:***@redis.internal:6379"],
    ["redis://user:hun?ter#22@redis.internal", "redis://user:***@redis.internal"],
    ["redis://redis.internal/0?password=hun@ter22", "redis://redis.internal/0?password=***"],
    // Not Redis URLs, as a wrong-scheme error prints them.
    ["http://user:hunter22@redis.internal", "http://user:***@redis.internal"],
    ["user:hunter22@redis.internal:6379", "user:***@redis.internal:6379"],
    ["redis:/user:hunter22@redis.internal", "redis:***@redis.internal"],
    // Nothing to hide.
    ["redis://redis.internal:6379/2", "redis://redis.internal:6379/2"],
    ["redis://sheafworker@redis.internal:6379", "redis://sheafworker@redis.internal:6379"],
  ];
  it.each(cases)("%s", (url, want) => {
    expect(redactUrl(url)).toBe(want);
    expect(redactUrl(url)).not.toMatch(/hunter22|hun|ter22/);
  });
});

describe("redisUrlFrom", () => {
  const dir = mkdtempSync(join(tmpdir(), "sheaf-redact-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "redis-url");
  writeFileSync(file, "redis://sheafworker:from-file-pw@127.0.0.1:6379\n");

  it("takes --redis, else --redis-file, else SHEAF_REDIS_URL, else SHEAF_REDIS_URL_FILE", () => {
    const env = { SHEAF_REDIS_URL: "redis://env:6379" };
    expect(redisUrlFrom("redis://flag:6379", undefined, env)).toBe("redis://flag:6379");
    expect(redisUrlFrom(undefined, file, env)).toBe("redis://sheafworker:from-file-pw@127.0.0.1:6379");
    expect(redisUrlFrom(undefined, undefined, env)).toBe("redis://env:6379");
    expect(redisUrlFrom(undefined, undefined, { SHEAF_REDIS_URL_FILE: file })).toBe("redis://sheafworker:from-file-pw@127.0.0.1:6379");
    expect(redisUrlFrom(undefined, undefined, { SHEAF_REDIS_URL: "", SHEAF_REDIS_URL_FILE: file })).toBe("redis://sheafworker:from-file-pw@127.0.0.1:6379");
    expect(() => redisUrlFrom("redis://flag:6379", file, {})).toThrow(/not both/);
    expect(() => redisUrlFrom(undefined, undefined, { ...env, SHEAF_REDIS_URL_FILE: file })).toThrow(/not both/);
    expect(() => redisUrlFrom(undefined, join(dir, "missing"), {})).toThrow(/--redis-file: cannot read .*ENOENT/);
    expect(() => redisUrlFrom(undefined, undefined, {})).toThrow(/no Redis URL/);
  });

  it("a wrong scheme is refused without printing the password", () => {
    for (const url of ["http://user:hunter22@redis.internal", "user:hunter22@redis.internal:6379", "redis:/:hunter22@h"]) {
      let message = "";
      try {
        redisUrlFrom(url, undefined, {});
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/not a Redis URL: .*\*\*\*/);
      expect(message).not.toContain("hunter22");
    }
    const bad = join(dir, "bad-url");
    writeFileSync(bad, "https://user:hunter22@redis.internal\n");
    expect(() => redisUrlFrom(undefined, bad, {})).toThrow(/not a Redis URL: https:\/\/user:\*\*\*@redis.internal/);
  });
});

describe("jobThreadEnv", () => {
  it("drops the engine's secrets and whatever holds a noted Redis URL or password, and keeps the rest", () => {
    noteCredentials("redis://sheafworker:w0rker-pw-123@10.0.0.5:6379");
    noteCredentials("redis://admin@10.0.0.5:6379/0?password=adm1n-pw-456");
    const env = jobThreadEnv({
      SHEAF_SECRET: "s".repeat(20),
      SHEAF_REDIS_URL: "redis://10.0.0.5:6379",
      SHEAF_REDIS_URL_FILE: "/etc/sheaf/redis-url",
      SHEAF_UI_TOKEN: "token",
      REDIS_URL: "redis://sheafworker:w0rker-pw-123@10.0.0.5:6379",
      ADMIN_PASSWORD: "adm1n-pw-456",
      DATABASE_URL: "postgres://job:pw@db/x",
      PGHOST: "db",
      AWS_REGION: "eu-west-1",
      SHEAF_WORKDIR: "/mnt/shared/sheaf",
      CACHE_URL: "redis://cache.internal:6379",
    });
    expect(env).toEqual({
      DATABASE_URL: "postgres://job:pw@db/x",
      PGHOST: "db",
      AWS_REGION: "eu-west-1",
      SHEAF_WORKDIR: "/mnt/shared/sheaf",
      CACHE_URL: "redis://cache.internal:6379",
    });
  });
});

describe("status prints text from Redis without terminal controls", () => {
  const spec = {
    id: "wc-20260101000000-abcdef", name: "wc\u001b]0;owned\u0007", artifact: "/w/a.mjs", workdir: "/w", inputs: ["/in\u001b[1A"], output: "/out", cwd: "/",
    params: {}, splitSize: 1, sortBufferBytes: 1, maxAttempts: 1, speculative: false, overwrite: false, submittedAt: 0,
  } as unknown as JobRecord["spec"];
  const record: JobRecord = {
    spec,
    state: "failed",
    cancelRequested: false,
    failedAttempts: 1,
    lastFailure: "map-00000 attempt 0: \u001b[2J\u001b[Hall clear\rstate     succeeded\u009b31m",
    error: "task failed:\nstate     succeeded\u001b[0m",
  };
  const controls = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

  it("one job: no ESC, CR or C1 reaches the output, and a newline in an error cannot forge a field", () => {
    const text = renderJob(record);
    expect(text).not.toMatch(controls);
    expect(text).toContain("latest: map-00000 attempt 0: \\x1b[2J\\x1b[Hall clear\\rstate     succeeded\\x9b31m");
    expect(text).toContain("(wc\\x1b]0;owned\\x07)");
    expect(text.split("\n").filter((l) => l.startsWith("state"))).toEqual(["state     failed"]);
  });

  it("the table and a pipeline run", () => {
    expect(renderJobTable([record], 0)).not.toMatch(controls);
    const run = {
      spec: { id: "p-1\u001b[2J", pipeline: "p\u001b[31m", at: "2026-01-01", submittedAt: 0, stages: [{ name: "s\u001b[1m" }] },
      state: "failed",
      stages: { "s\u001b[1m": { state: "failed", error: "boom\u001b[2J\nstate  succeeded" } },
      cancelRequested: false,
      error: "x\u001b]8;;http://evil\u0007link",
    } as unknown as RunRecord;
    expect(renderRun(run)).not.toMatch(controls);
    expect(renderJobTable([], 0, [run])).not.toMatch(controls);
    expect(printable("a\u202eb\u2028c")).toBe("a\\u202eb\\u2028c");
  });
});
