/**
 * The dashboard and /metrics (issue 20) on a real cluster: redis-server, a leader and a standby
 * coordinator each serving `--http`, a worker, real jobs. A headless chromium (Debian's, driven by
 * playwright-core) reads the pages as a user would: the jobs page sees a running job's progress move
 * without a reload, a job's timeline has one bar per attempt, a failed job's page names the record
 * and the cause, the cancel button cancels with the token and is refused without it, and a schedule
 * is backfilled from its page. Each page is saved as a screenshot (SHEAF_SCREENSHOTS, default
 * test-results/dashboard). /metrics is parsed by the exposition format's rules (exposition.ts), and
 * its task counts equal the job's report.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster, freePort, waitFor } from "./cluster-harness.js";
import { parseExposition, valueOf } from "./exposition.js";
import { EXAMPLE_JOBS, FIXTURE_JOBS, REPO, Scratch } from "./helpers.js";

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "dashboard-test-token-0123456789";
const SLOW = join(FIXTURE_JOBS, "slow.ts");
const BOOM = join(FIXTURE_JOBS, "boom.ts");
const WORDCOUNT = join(EXAMPLE_JOBS, "wordcount.ts");
const PIPELINE = join(REPO, "test/fixtures/pipelines/dash.ts");
const SHOTS = process.env.SHEAF_SCREENSHOTS ? join(REPO, process.env.SHEAF_SCREENSHOTS) : join(REPO, "test-results/dashboard");

if (!existsSync(CHROMIUM)) console.warn(`dashboard tests skipped: no chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`);

describe.skipIf(!existsSync(CHROMIUM))("the dashboard in a browser, and /metrics", () => {
  const scratch = new Scratch("dashboard");
  const cluster = new Cluster(scratch.path("workdir"));
  let base = "";
  let standby = "";
  let browser: Browser;
  let inputs: string[] = [];
  /** The test's one Redis connection (the harness checks it is closed). */
  let redis: ReturnType<Cluster["client"]>;

  /** A page in a context of its own (its own cookies): with the token once given, or without. */
  async function open(path: string, withToken: boolean): Promise<{ page: Page; context: BrowserContext }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}${path}${withToken ? `${path.includes("?") ? "&" : "?"}token=${TOKEN}` : ""}`);
    await page.waitForSelector("body[data-drawn]");
    expect(errors).toEqual([]);
    return { page, context };
  }

  async function shot(page: Page, name: string): Promise<void> {
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  }

  async function submit(args: string[]): Promise<string> {
    const r = await cluster.run(["submit", ...args]);
    expect(r.code, r.output).toBe(0);
    return r.stdout.trim().split("\n")[0]!;
  }

  const state = (id: string) => redis.hget(`sheaf:job:${id}`, "state");
  const until = (what: string, probe: () => Promise<boolean>, ms = 60_000) => waitFor(what, async () => ((await probe()) ? true : undefined), ms);

  async function scrape(): Promise<ReturnType<typeof parseExposition>> {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    return parseExposition(await res.text());
  }

  beforeAll(async () => {
    for (let f = 0; f < 2; f++) {
      const lines = Array.from({ length: 300 }, (_, i) => `line ${f}-${i} alpha beta ${i % 7 === 0 ? "gamma" : "delta"}`);
      inputs.push(scratch.write(`in/part${f}.txt`, lines.join("\n") + "\n"));
    }
    await cluster.startRedis();
    redis = cluster.client();
    const [port, port2] = [await freePort(), await freePort()];
    await cluster.coordinator(["--http", `127.0.0.1:${port}`], false, { SHEAF_UI_TOKEN: TOKEN });
    await cluster.coordinator(["--http", `127.0.0.1:${port2}`], true, { SHEAF_UI_TOKEN: TOKEN });
    await cluster.worker(2);
    base = `http://127.0.0.1:${port}`;
    standby = `http://127.0.0.1:${port2}`;
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM });
  });

  afterAll(async () => {
    await browser?.close();
    await cluster.stop();
    scratch.cleanup();
    cluster.assertNoLeaks();
  });

  it("a coordinator bound beyond loopback without SHEAF_UI_TOKEN refuses to start", async () => {
    const r = await cluster.run(["coordinator", "--http", "0.0.0.0:0"], { SHEAF_UI_TOKEN: "" });
    expect(r.code).not.toBe(0);
    expect(r.output).toContain("SHEAF_UI_TOKEN");
    // A page of another site that rebinds its name to 127.0.0.1 sends its own Host: refused.
    const status = await new Promise<number>((resolve, reject) => {
      get(`${base}/api/overview`, { headers: { host: "sheaf.example" } }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on("error", reject);
    });
    expect(status).toBe(401);
  });

  it("the jobs page shows a running job, and its progress moves without a reload", async () => {
    const { page, context } = await open("/", false);
    const id = await submit([SLOW, "--input", ...inputs, "--output", scratch.fresh(), "--split-size", "2k", "--param", "taskMs=700", "--no-speculative"]);
    const row = page.locator(`tr[data-id="${id}"]`);
    await row.waitFor({ timeout: 20_000 });
    const done = async () => Number((await row.locator('[role="progressbar"]').first().getAttribute("aria-valuenow")) ?? -1);
    const seen = new Set<number>();
    await until("the map bar to move on the page", async () => (seen.add(await done()), [...seen].filter((n) => n > 0).length >= 2), 60_000);
    // Its fair share while it runs: the default pool's task slots, from the progress the coordinator writes.
    await until("the pools line to show the job's pool", async () => /^task slots out by pool: default [1-9]\d*$/.test((await page.locator("#pools").textContent()) ?? ""), 30_000);
    await shot(page, "jobs");
    expect(await row.locator(".state").first().textContent()).toMatch(/running|succeeded/);
    await until("the job to succeed on the page", async () => (await row.locator(".state").first().textContent()) === "succeeded");
    await context.close();
  });

  it("a job's page has a timeline with one bar per attempt, and /metrics counts its tasks as its report does", async () => {
    const before = await scrape();
    const out = scratch.fresh();
    const id = await submit([WORDCOUNT, "--input", ...inputs, "--output", out, "--split-size", "3k", "--partitions", "3", "--no-speculative", "--wait", "-q"]);
    const report = JSON.parse((await redis.hget(`sheaf:job:${id}`, "progress"))!) as { mapsTotal: number; reducesTotal: number; recordsIn: number; recordsOut: number };
    const attempts = await redis.llen(`sheaf:job:${id}:timeline`);
    expect(attempts).toBe(report.mapsTotal + report.reducesTotal); // no retry, no backup
    const { page, context } = await open(`/jobs/${id}`, false);
    expect(await page.locator("#timeline rect.attempt").count()).toBe(attempts);
    expect(await page.locator("#timeline rect.attempt.committed").count()).toBe(attempts);
    expect(await page.locator("#partitions tr").count()).toBe(1 + 3);
    expect(await page.locator("#tasks tr").count()).toBe(1 + report.mapsTotal + report.reducesTotal);
    await shot(page, "job");
    await context.close();

    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => (valueOf(after, name, labels) ?? 0) - (valueOf(before, name, labels) ?? 0);
    expect(delta("sheaf_tasks_total", { stage: "map", outcome: "committed" })).toBe(report.mapsTotal);
    expect(delta("sheaf_tasks_total", { stage: "reduce", outcome: "committed" })).toBe(report.reducesTotal);
    expect(delta("sheaf_tasks_total", { stage: "map", outcome: "failed" })).toBe(0);
    expect(delta("sheaf_task_duration_seconds_count", { stage: "map" })).toBe(report.mapsTotal);
    expect(delta("sheaf_records_total", { stage: "map", direction: "in" })).toBe(report.recordsIn);
    expect(delta("sheaf_records_total", { stage: "reduce", direction: "out" })).toBe(report.recordsOut);
    expect(valueOf(after, "sheaf_jobs", { state: "running" })).toBe(0);
    expect(valueOf(after, "sheaf_workers")).toBe(1);
    // From the worker's heartbeat: its two threads, idle once the job is done.
    expect((valueOf(after, "sheaf_worker_threads", { state: "busy" }) ?? 0) + (valueOf(after, "sheaf_worker_threads", { state: "idle" }) ?? 0)).toBe(2);
    for (const name of ["sheaf_jobs", "sheaf_runs", "sheaf_tasks_total", "sheaf_task_duration_seconds", "sheaf_records_total", "sheaf_bytes_total", "sheaf_retries_total", "sheaf_speculative_attempts_total", "sheaf_lost_map_outputs_total", "sheaf_queue_depth", "sheaf_workers", "sheaf_worker_threads", "sheaf_schedule_lag_seconds", "sheaf_rejected_messages_total"]) {
      expect(after.has(name), name).toBe(true);
    }
    // The standby serves the same, from Redis.
    const overview = (await (await fetch(`${standby}/api/overview`)).json()) as { entries: { id: string; state: string }[] };
    expect(overview.entries.find((e) => e.id === id)?.state).toBe("succeeded");
  });

  it("a running job's page adds attempts as they end without reading its timeline again, and a reload shows the same", async () => {
    const id = await submit([SLOW, "--input", ...inputs, "--output", scratch.fresh(), "--split-size", "1k", "--param", "taskMs=400", "--no-speculative"]);
    await until("the job to run", async () => (await state(id)) === "running");
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    // What the page reads over HTTP (the rest comes on its events stream).
    const reads: Promise<{ attempts?: unknown[]; tasks?: unknown[] }>[] = [];
    page.on("response", (res) => {
      if (new URL(res.url()).pathname === `/api/jobs/${id}`) reads.push(res.json().catch(() => ({})));
    });
    await page.goto(`${base}/jobs/${id}`);
    await page.waitForSelector("body[data-drawn]");
    await page.evaluate("window.sameDocument = true");
    const bars = page.locator("#timeline rect.attempt");
    const counts = new Set<number>();
    await until("the job to succeed", async () => (counts.add(await bars.count()), (await state(id)) === "succeeded"), 60_000);
    // The oracle: the timeline in Redis, as the leader wrote it.
    const timeline = async () => (await redis.lrange(`sheaf:job:${id}:timeline`, 0, -1)).map((t) => JSON.parse(t) as { taskId: string; attempt: number }).map((a) => `${a.taskId}#${a.attempt}`).sort();
    const drawn = async () => (await bars.evaluateAll((els) => els.map((e) => `${e.getAttribute("data-task")}#${e.getAttribute("data-attempt")}`))).sort();
    const expected = await timeline();
    await until("every attempt drawn", async () => (await bars.count()) === expected.length, 20_000);
    expect(await drawn()).toEqual(expected);
    expect([...counts].filter((n) => n > 0 && n < expected.length).length, `bar counts seen: ${[...counts]}`).toBeGreaterThanOrEqual(1); // grew while it ran
    expect(await page.evaluate("window.sameDocument")).toBe(true); // no reload
    const views = await Promise.all(reads);
    expect(views.filter((v) => v.tasks !== undefined)).toEqual([]); // never the whole view, every task's attempts
    expect(views.reduce((n, v) => n + (v.attempts?.length ?? 0), 0)).toBeLessThan(expected.length); // some came pushed on the stream, none read twice
    const rows = await page.locator("#tasks tr").allTextContents();
    const facts = await page.locator("dl.facts").textContent();
    await page.reload();
    await page.waitForSelector("body[data-drawn]");
    expect(await drawn()).toEqual(expected);
    expect(await page.locator("#tasks tr").allTextContents()).toEqual(rows);
    expect(await page.locator("dl.facts").textContent()).toEqual(facts);
    await context.close();
  });

  it("a failed job's page names the record and the cause", async () => {
    const bad = "line 1-43 alpha beta delta"; // line 44 of part1.txt
    const r = await cluster.run(["submit", BOOM, "--input", ...inputs, "--output", scratch.fresh(), "--param", "fail=map", "--param", `bad=${bad}`, "--max-attempts", "1", "--wait", "-q"]);
    expect(r.code, r.output).not.toBe(0);
    const id = r.stdout.trim().split("\n")[0]!;
    const { page, context } = await open(`/jobs/${id}`, false);
    const failure = (await page.locator("#failure").textContent()) ?? "";
    expect(failure).toContain(`${inputs[1]}`);
    // Named by file and byte offset (a split that starts mid-file does not know its line numbers).
    const offset = readFileSync(inputs[1]!, "utf8").indexOf(`${bad}\n`);
    expect(failure).toContain(`byte ${offset}`);
    expect(failure).toContain(`cannot map ${JSON.stringify(bad)}`);
    expect(await page.locator("#timeline rect.attempt.failed").count()).toBeGreaterThanOrEqual(1);
    await shot(page, "job-failed");
    await context.close();
    expect(valueOf(await scrape(), "sheaf_jobs", { state: "failed" })).toBe(1);
  });

  it("the cancel button is refused without the token and cancels with it", async () => {
    const id = await submit([SLOW, "--input", ...inputs, "--output", scratch.fresh(), "--split-size", "1k", "--param", "taskMs=1500", "--no-speculative"]);
    await until("the job to run", async () => (await state(id)) === "running");
    const anonymous = await open(`/jobs/${id}`, false);
    await anonymous.page.click("#cancel");
    await anonymous.page.waitForSelector(".notice.refused");
    expect(await anonymous.page.locator(".notice.refused").textContent()).toContain("token");
    await new Promise((r) => setTimeout(r, 500));
    expect(await state(id)).toBe("running");
    await anonymous.context.close();
    // Neither a request without the action header, nor one with a wrong token, acts.
    const noHeader = await fetch(`${base}/api/jobs/${id}/cancel`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
    expect(noHeader.status).toBe(403);
    const wrong = await fetch(`${base}/api/jobs/${id}/cancel`, { method: "POST", headers: { authorization: "Bearer wrong-token-wrong-token", "x-sheaf-action": "1" } });
    expect(wrong.status).toBe(403);
    expect(await state(id)).toBe("running");

    const admin = await open(`/jobs/${id}`, true);
    expect(await admin.page.locator("#session").textContent()).toContain("actions enabled");
    await admin.page.click("#cancel");
    await admin.page.waitForSelector(".notice:not(.refused)");
    await until("the job to be cancelled", async () => (await state(id)) === "cancelled", 20_000);
    await admin.page.waitForSelector("h1 .state.cancelled", { timeout: 10_000 });
    await admin.context.close();
  });

  it("a schedule's page backfills with the token; a run's page shows its DAG and the schedule's grid", async () => {
    const dir = scratch.path("pipeline");
    scratch.write("pipeline/in/a.txt", "a b c a b a\nd e a\n");
    const add = await cluster.run(["schedule", "add", "nightly", PIPELINE, "--every", "1h", "--param", `dir=${dir}`]);
    expect(add.code, add.output).toBe(0);
    expect((await cluster.run(["schedule", "pause", "nightly"])).code).toBe(0);
    const { page, context } = await open("/schedules", true);
    const row = page.locator('tr[data-schedule="nightly"]');
    expect(await row.locator(".state").first().textContent()).toBe("paused");
    await row.locator('input[aria-label="from"]').fill("2026-01-01T00:00:00Z");
    await row.locator('input[aria-label="to"]').fill("2026-01-01T02:00:00Z");
    await row.locator("form button").click();
    await page.waitForSelector(".notice:not(.refused)");
    const runs = () => redis.zrange("sheaf:runs", "0", "-1");
    await until("three backfilled runs to end", async () => {
      const ids = await runs();
      const states = await Promise.all(ids.map((r) => redis.hget(`sheaf:run:${r}`, "state")));
      return ids.length >= 3 && states.every((s) => s === "succeeded");
    }, 120_000);
    await page.reload();
    await page.waitForSelector("body[data-drawn]");
    await row.locator("button", { hasText: "Resume" }).click();
    await until("the schedule to be active", async () => (await redis.hget("sheaf:schedule:nightly", "state")) === "active", 10_000);
    await row.locator("button", { hasText: "Pause" }).waitFor();
    await shot(page, "schedules");
    await context.close();

    const last = (await runs()).sort().at(-1)!;
    const run = await open(`/runs/${encodeURIComponent(last)}`, false);
    expect(await run.page.locator("#dag g.node").count()).toBe(3);
    expect(await run.page.locator("#dag g.node.succeeded").count()).toBe(3);
    expect(await run.page.locator("#dag path.edge").count()).toBe(2);
    expect(await run.page.locator("#grid td.cell.succeeded").count()).toBeGreaterThanOrEqual(3 * 4); // three runs × (run + 3 stages)
    await shot(run.page, "run");
    await run.context.close();

    const workers = await open("/workers", false);
    expect(await workers.page.locator("#workers tr").count()).toBe(2);
    await shot(workers.page, "workers");
    await workers.context.close();
  });
});
