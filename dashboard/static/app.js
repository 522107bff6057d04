// The dashboard's pages: one script, no build step, no dependency. It reads the JSON API
// (/api/...), redraws on the live events (/events), and sets text, never markup, so nothing read
// from Redis can inject into the page.

const $page = document.getElementById("page");
const SVG = "http://www.w3.org/2000/svg";
let session = { actions: false, actionHeader: "x-sheaf-action" };
let notice;

/** An element: h("td", { class: "x" }, "text", child, ...). */
function h(tag, attrs = {}, ...children) {
  const el = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "style") el.style.cssText = v; // through the CSSOM: the CSP allows no style attribute
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

const api = async (path) => {
  const res = await fetch(`/api/${path}`, { headers: { accept: "application/json" } });
  if (!res.ok) throw new Error((await res.json().catch(() => ({}))).error ?? `HTTP ${res.status}`);
  return res.json();
};

/** An action: POST with the header forms cannot send; the token rides in the cookie `?token=` set. */
async function act(path, body, done) {
  const res = await fetch(`/api/${path}`, { method: "POST", headers: { "content-type": "application/json", [session.actionHeader]: "1" }, body: JSON.stringify(body ?? {}) });
  const data = await res.json().catch(() => ({}));
  notice = res.ok ? { text: done, refused: false } : { text: `refused: ${data.error ?? `HTTP ${res.status}`}`, refused: true };
  notice.until = Date.now() + 10_000; // kept over the redraws live updates make
  await draw();
}

// Figures.
const pad = (n) => String(n).padStart(2, "0");
const time = (ms) => { if (!ms) return "-"; const d = new Date(ms); return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}Z`; };
const dur = (ms) => { if (ms === undefined || ms === null) return "-"; if (ms < 1000) return `${Math.round(ms)} ms`; const s = ms / 1000; if (s < 60) return `${s.toFixed(1)} s`; const m = Math.floor(s / 60); return m < 60 ? `${m} min ${Math.round(s - m * 60)} s` : `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ""}`; };
const num = (n) => (n === undefined ? "-" : Math.round(n).toLocaleString("en-US"));
const bytes = (n) => { if (n === undefined) return "-"; const u = ["B", "KB", "MB", "GB", "TB"]; let i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return `${i ? n.toFixed(n >= 100 ? 0 : 1) : n} ${u[i]}`; };
const state = (s) => h("span", { class: `state ${s}` }, s);
const elapsed = (r, now) => (r.startedAt ? dur((r.finishedAt ?? now) - r.startedAt) : "-");

function bar(done, total, label) {
  const f = total ? Math.min(1, done / total) : 0;
  return h("span", { class: "stagebar" }, h("span", { class: "name" }, label), h("span", { class: `bar${f >= 1 ? " done" : ""}`, role: "progressbar", "aria-valuenow": done, "aria-valuemax": total }, h("span", { style: `width:${(f * 100).toFixed(1)}%` })), h("span", { class: "bar-label" }, `${done}/${total}`));
}

function progressCell(j) {
  const p = j.progress;
  if (!p) return h("td", {}, j.state === "queued" ? "waiting for a coordinator" : "-");
  return h("td", { class: "progress" }, bar(p.mapsDone, p.mapsTotal, "map"), p.reducesTotal ? bar(p.reducesDone, p.reducesTotal, "reduce") : null);
}

function noticeBox() {
  if (!notice || Date.now() > notice.until) return null;
  return h("div", { class: `notice${notice.refused ? " refused" : ""}`, role: "status" }, notice.text);
}

// Pages.
function jobRow(e, now) {
  const f = e.figures;
  return h("tr", { "data-id": e.id, class: "job" },
    h("td", { class: "mono" }, h("a", { href: `/jobs/${encodeURIComponent(e.id)}` }, e.id)), h("td", {}, e.name), h("td", {}, state(e.state)), progressCell(e),
    h("td", {}, f ? `${num(f.recordsPerSec)} rec/s` : "-"), h("td", {}, f?.etaMs !== undefined && e.state === "running" ? dur(f.etaMs) : "-"),
    h("td", {}, time(e.startedAt)), h("td", {}, time(e.finishedAt)), h("td", {}, elapsed(e, now)), h("td", {}, "-"));
}

function runRow(e, now) {
  const done = e.stages.filter((s) => s.state === "succeeded" || s.state === "skipped").length;
  return h("tr", { "data-id": e.id, class: "run" },
    h("td", { class: "mono" }, h("a", { href: `/runs/${encodeURIComponent(e.id)}` }, e.id)), h("td", {}, e.name), h("td", {}, state(e.state)),
    h("td", {}, bar(done, e.stages.length, "stages"), h("div", {}, e.stages.map((s) => h("span", { title: s.name }, state(s.state), " ")))),
    h("td", {}, "-"), h("td", {}, "-"), h("td", {}, time(e.startedAt)), h("td", {}, time(e.finishedAt)), h("td", {}, elapsed(e, now)),
    h("td", {}, e.schedule ? `${e.schedule.name} @ ${time(e.schedule.due)}` : "-"));
}

/** Task slots out (queued or running) by pool over the running jobs shown: their fair shares, as sheaf_pool_slots has them. */
function poolsLine(entries) {
  const by = new Map();
  for (const e of entries) {
    const share = e.kind === "job" && e.state === "running" ? e.progress?.share : undefined;
    if (share) by.set(share.pool, (by.get(share.pool) ?? 0) + share.slots);
  }
  return h("p", { id: "pools", class: "muted" }, by.size ? `task slots out by pool: ${[...by].map(([pool, n]) => `${pool} ${n}`).join(", ")}` : "");
}

async function jobsPage() {
  const o = await api("overview?limit=50");
  const shown = new Map(o.entries.filter((e) => e.kind === "job").map((e) => [e.id, e]));
  // Progress arrives with its figures: the rows shown are redrawn in place, nothing is fetched.
  current.onProgress = (changed) => {
    for (const [id, c] of Object.entries(changed)) {
      const e = shown.get(id);
      const row = document.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
      if (!e || !row) continue; // a stage's job, or one the table does not hold
      Object.assign(e, { state: c.state, progress: c.progress, figures: c.figures });
      e.startedAt ??= c.progress?.startedAt; // a job queued when the page was drawn has started since
      row.replaceWith(jobRow(e, Date.now()));
    }
    document.getElementById("pools")?.replaceWith(poolsLine(shown.values()));
    return true;
  };
  const rows = o.entries.map((e) => (e.kind === "job" ? jobRow(e, o.now) : runRow(e, o.now)));
  const refused = Object.entries(o.rejected).filter(([, n]) => n > 0);
  return [
    h("h1", {}, "Jobs and pipeline runs"),
    poolsLine(o.entries),
    refused.length ? h("div", { class: "notice refused" }, `refused messages and records: ${refused.map(([c, n]) => `${c} ${n}`).join(", ")}`) : null,
    rows.length ? h("table", { id: "jobs" }, h("tr", {}, ["ID", "NAME", "STATE", "PROGRESS", "RECORDS/S", "ETA", "START", "END", "DURATION", "SCHEDULE"].map((t) => h("th", {}, t))), rows) : h("p", { class: "muted" }, "no jobs yet"),
  ];
}

/** Only while there is something to cancel. */
function cancelButton(kind, id, st) {
  if (st !== "queued" && st !== "running") return null;
  return h("button", { class: "danger", id: "cancel", onclick: () => act(`${kind}/${encodeURIComponent(id)}/cancel`, {}, `cancel requested for ${id}`) }, "Cancel");
}

/** Rows of a job's task table: a job of 100,000 tasks lists the first ones and the failed. */
const TASK_ROWS = 500;

/**
 * What a job's page has read: the job's record, its attempts so far, and `next`, the sequence number
 * of the timeline's next attempt (core/cluster/timeline.ts). The page reads the job whole once; then
 * new attempts arrive on its events stream (`timeline`, pushed by the server as they end), and only
 * a gap (a stream reopened, or a page opened between two of the server's reads) is read, from `next`
 * on: no read of the timeline grows with the timeline.
 */
const followed = { job: undefined, skew: 0, attempts: [], next: 0, stale: true };
/** Attempts a page keeps, as the server does (TIMELINE_KEPT): a reload shows the same. */
const KEPT = 20_000;

/** Adds a slice of the timeline ({from, next, attempts}); false if it starts past what the page has (a gap). */
function addAttempts(slice, gapOk) {
  if (slice.from > followed.next && !gapOk) return false;
  followed.attempts.push(...slice.attempts.slice(Math.max(0, followed.next - slice.from)));
  if (followed.attempts.length > KEPT) followed.attempts.splice(0, followed.attempts.length - KEPT);
  followed.next = Math.max(followed.next, slice.next);
  return true;
}

/** A job's tasks from its attempts, as the API's `tasks` (dashboard/views.ts jobView). */
function tasksOf(attempts) {
  const tasks = new Map();
  for (const a of attempts) {
    let t = tasks.get(a.taskId);
    if (!t) tasks.set(a.taskId, (t = { taskId: a.taskId, kind: a.kind, index: a.index, state: a.outcome, attempts: [] }));
    t.attempts.push(a);
    if (t.state !== "committed") t.state = a.outcome === "discarded" ? "committed" : a.outcome;
  }
  return [...tasks.values()].sort((a, b) => (a.kind === b.kind ? a.index - b.index : a.kind === "map" ? -1 : 1));
}

async function jobPage(id) {
  if (followed.stale || !followed.job) {
    followed.stale = false; // an event during the read marks it stale again
    const since = await api(`jobs/${encodeURIComponent(id)}?from=${followed.next}`).catch((err) => { followed.stale = true; throw err; });
    Object.assign(followed, { job: since.job, skew: since.now - Date.now() }); // durations by the server's clock
    addAttempts(since, true); // attempts trimmed off the timeline's head meanwhile are gone
  }
  const tasks = tasksOf(followed.attempts);
  const reduces = followed.job.progress?.reducesTotal ? "reduce" : "map";
  const parts = tasks.filter((t) => t.kind === reduces).flatMap((t) => {
    const won = t.attempts.find((a) => a.outcome === "committed");
    return won ? [{ index: t.index, records: won.recordsOut ?? 0, bytes: won.bytesOut ?? 0 }] : [];
  });
  const v = { now: Date.now() + followed.skew, job: followed.job, tasks, partitions: parts };
  // Progress updates the bars and rates in place; the page is redrawn from what it holds (nothing
  // read), at most once a second, a large job's less often: 1 s per 1,000 attempts.
  redrawEvery = Math.min(30_000, Math.max(1000, followed.attempts.length));
  current.onProgress = (changed) => {
    const c = changed[id];
    const el = document.getElementById("job-progress");
    if (c?.progress && el) el.replaceWith(jobProgress(c.progress, c.figures));
    if (c) Object.assign(followed.job, { state: c.state, progress: c.progress ?? followed.job.progress, figures: c.figures ?? followed.job.figures });
    return false; // and a redraw, at its slower pace
  };
  current.onTimeline = (slice) => {
    if (slice.id !== id) return;
    if (!addAttempts(slice, false)) followed.stale = true; // the gap is read on the redraw
    soon();
  };
  const j = v.job;
  const p = j.progress;
  const failedTask = [...v.tasks].reverse().find((t) => t.state === "failed");
  const lastFail = failedTask?.attempts.at(-1);
  return [
    h("h1", {}, `Job ${j.name} `, state(j.state), " ", cancelButton("jobs", j.id, j.state)),
    noticeBox(),
    facts([
      ["id", h("span", { class: "mono" }, j.id)], ["pipeline run", j.run ? h("a", { href: `/runs/${encodeURIComponent(j.run)}` }, `${j.run} (stage ${j.stage})`) : null],
      ["submitted", time(j.submittedAt)], ["started", time(j.startedAt)], ["ended", time(j.finishedAt)], ["duration", elapsed(j, v.now)],
      ["input", j.inputs.join(" ")], ["output", j.output],
      ["progress", p ? jobProgress(p, j.figures) : "-"],
      ["share", p?.share && j.state === "running" ? `pool ${p.share.pool}: ${p.share.slots} of the ${p.share.of} task slots out (queued or running)` : null],
      ["written", p && p.recordsOut !== undefined ? `${num(p.recordsOut)} records, ${bytes(p.bytesOut)} in ${p.parts} part files` : "-"],
      ["counters", p?.counters && Object.keys(p.counters).length ? Object.entries(p.counters).map(([k, n]) => `${k}=${num(n)}`).join("  ") : null],
      ["failed attempts", j.failedAttempts || null],
    ]),
    j.error || lastFail ? h("div", { class: "error", id: "failure" },
      lastFail?.where ? h("div", { class: "where" }, `task ${lastFail.taskId} attempt ${lastFail.attempt}, ${lastFail.where}`) : null,
      h("div", { class: "cause" }, j.error ?? `${lastFail.code}: ${lastFail.error}`)) : null,
    h("h2", {}, "Timeline of attempts by worker"),
    timeline(v.tasks.flatMap((t) => t.attempts)),
    h("div", { class: "legend" }, h("span", {}, "■ green: committed"), h("span", {}, "red: failed"), h("span", {}, "grey: stopped or discarded"), h("span", {}, "orange outline: backup attempt")),
    h("h2", {}, `Partition sizes (${v.partitions.length})`),
    partitions(v.partitions),
    h("h2", {}, `Tasks (${v.tasks.length} with ended attempts${v.tasks.length > TASK_ROWS ? `; the first ${TASK_ROWS} and every one that failed shown` : ""})`),
    h("table", { id: "tasks" }, h("tr", {}, ["TASK", "STATE", "ATTEMPTS", "WORKER", "START", "DURATION", "RECORDS IN/OUT", "BYTES IN/OUT", "ERROR"].map((t) => h("th", {}, t))),
      v.tasks.filter((t, i) => i < TASK_ROWS || t.state === "failed").map((t) => {
        const last = t.attempts.find((a) => a.outcome === "committed") ?? t.attempts.at(-1);
        return h("tr", {}, h("td", { class: "mono" }, t.taskId), h("td", {}, state(t.state)), h("td", {}, t.attempts.length), h("td", { class: "mono" }, last.worker ?? "-"),
          h("td", {}, time(last.start)), h("td", {}, dur(last.end - last.start)), h("td", {}, `${num(last.recordsIn)} / ${num(last.recordsOut)}`), h("td", {}, `${bytes(last.bytesIn)} / ${bytes(last.bytesOut)}`),
          h("td", { class: "wrap" }, last.error ? `${last.code}${last.where ? ` (${last.where})` : ""}: ${last.error}` : ""));
      })),
  ];
}

/** A job's bars, records read and rates: redrawn in place as progress arrives. */
function jobProgress(p, f) {
  return h("div", { id: "job-progress" }, bar(p.mapsDone, p.mapsTotal, "map"), p.reducesTotal ? bar(p.reducesDone, p.reducesTotal, "reduce") : null,
    h("div", {}, `read ${num(p.recordsIn)} records, ${bytes(p.bytesIn)} of ${bytes(p.bytesTotal)}`, f ? `; ${num(f.recordsPerSec)} rec/s, ${bytes(f.bytesPerSec)}/s${f.etaMs !== undefined ? `, ETA ${dur(f.etaMs)}` : ""}` : ""));
}

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

/** A Gantt chart: a row per worker (lanes for attempts at once), a bar per attempt. */
function timeline(attempts) {
  if (!attempts.length) return h("p", { class: "muted" }, "no attempt has ended yet");
  const t0 = Math.min(...attempts.map((a) => a.start));
  const t1 = Math.max(...attempts.map((a) => a.end), t0 + 1);
  const byWorker = new Map();
  for (const a of [...attempts].sort((x, y) => x.start - y.start)) {
    const w = a.worker ?? "unknown worker";
    if (!byWorker.has(w)) byWorker.set(w, []);
    const lanes = byWorker.get(w);
    let lane = lanes.findIndex((endsAt) => endsAt <= a.start);
    if (lane < 0) lane = lanes.push(0) - 1;
    lanes[lane] = a.end;
    a._lane = lane;
  }
  const LANE = 14, LEFT = 170, WIDTH = 1000, rows = [];
  let y = 22;
  for (const [w, lanes] of byWorker) { rows.push({ w, y, lanes: lanes.length }); y += lanes.length * LANE + 10; }
  const rowOf = new Map(rows.map((r) => [r.w, r]));
  const x = (t) => LEFT + ((t - t0) / (t1 - t0)) * (WIDTH - LEFT - 10);
  const svg = h("svg:svg", { id: "timeline", width: WIDTH, height: y + 4, viewBox: `0 0 ${WIDTH} ${y + 4}` },
    h("svg:text", { x: LEFT, y: 13 }, "0 s"), h("svg:text", { x: WIDTH - 60, y: 13 }, dur(t1 - t0)),
    rows.map((r) => [h("svg:text", { x: 4, y: r.y + 11 }, r.w.length > 26 ? `…${r.w.slice(-25)}` : r.w), h("svg:line", { class: "axis", x1: LEFT, x2: WIDTH - 10, y1: r.y - 4, y2: r.y - 4 })]),
    attempts.map((a) => {
      const r = rowOf.get(a.worker ?? "unknown worker");
      return h("svg:rect", { class: `attempt ${a.outcome}${a.backup ? " backup" : ""}`, "data-task": a.taskId, "data-attempt": a.attempt, x: x(a.start), y: r.y + a._lane * LANE, width: Math.max(2, x(a.end) - x(a.start)), height: LANE - 3 },
        h("svg:title", {}, `${a.taskId} attempt ${a.attempt}${a.backup ? " (backup)" : ""}${a.thread !== undefined ? ` on thread ${a.thread}` : ""}: ${a.outcome}, ${dur(a.end - a.start)}${a.error ? ` — ${a.error}` : ""}`));
    }));
  return svg;
}

function partitions(parts) {
  if (!parts.length) return h("p", { class: "muted" }, "none committed yet");
  const max = Math.max(1, ...parts.map((p) => p.bytes));
  return h("table", { id: "partitions" }, h("tr", {}, ["PARTITION", "RECORDS", "BYTES", ""].map((t) => h("th", {}, t))),
    parts.map((p) => h("tr", {}, h("td", {}, p.index), h("td", {}, num(p.records)), h("td", {}, bytes(p.bytes)), h("td", {}, h("span", { class: "bar done" }, h("span", { style: `width:${((p.bytes / max) * 100).toFixed(1)}%` }))))));
}

async function runPage(id) {
  const v = await api(`runs/${encodeURIComponent(id)}`);
  const r = v.run;
  return [
    h("h1", {}, `Pipeline ${r.name} `, state(r.state), " ", cancelButton("runs", r.id, r.state)),
    noticeBox(),
    facts([["id", h("span", { class: "mono" }, r.id)], ["logical time", r.at], ["schedule", r.schedule ? `${r.schedule.name}, due ${time(r.schedule.due)}` : null],
      ["submitted", time(r.submittedAt)], ["started", time(r.startedAt)], ["ended", time(r.finishedAt)], ["duration", elapsed(r, v.now)]]),
    r.error ? h("div", { class: "error" }, r.error) : null,
    h("h2", {}, "Stages"),
    dag(r.stages),
    h("table", { id: "stages" }, h("tr", {}, ["STAGE", "STATE", "JOB", "DEPENDS ON", "DURATION", "ERROR"].map((t) => h("th", {}, t))),
      r.stages.map((s) => h("tr", {}, h("td", {}, s.name), h("td", {}, state(s.state)), h("td", { class: "mono" }, s.jobId ? h("a", { href: `/jobs/${encodeURIComponent(s.jobId)}` }, s.jobId) : "-"),
        h("td", {}, s.dependsOn.join(", ") || "-"), h("td", {}, dur(s.millis)), h("td", { class: "wrap" }, s.error ?? "")))),
    v.grid ? [h("h2", {}, `Recent runs of schedule ${v.grid.schedule}`), grid(v.grid)] : null,
  ];
}

/** The stages as a DAG: a column per depth, an arrow per dependency. */
function dag(stages) {
  const depth = new Map();
  const depthOf = (s) => { if (!depth.has(s.name)) { depth.set(s.name, 0); depth.set(s.name, Math.max(0, ...s.dependsOn.map((d) => 1 + depthOf(stages.find((x) => x.name === d) ?? { name: d, dependsOn: [] })))); } return depth.get(s.name); };
  stages.forEach(depthOf);
  const cols = new Map();
  const pos = new Map();
  for (const s of stages) { const d = depth.get(s.name); const row = cols.get(d) ?? 0; cols.set(d, row + 1); pos.set(s.name, { x: 20 + d * 190, y: 20 + row * 60 }); }
  const W = 40 + Math.max(...depth.values()) * 190 + 150, H = 30 + Math.max(...cols.values()) * 60;
  return h("svg:svg", { id: "dag", width: W, height: H, viewBox: `0 0 ${W} ${H}` },
    h("svg:defs", {}, h("svg:marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" }, h("svg:path", { d: "M0,0 L10,5 L0,10 z", fill: "#868e96" }))),
    stages.flatMap((s) => s.dependsOn.filter((d) => pos.has(d)).map((d) => { const a = pos.get(d), b = pos.get(s.name); return h("svg:path", { class: "edge", d: `M${a.x + 140},${a.y + 18} C${a.x + 165},${a.y + 18} ${b.x - 25},${b.y + 18} ${b.x},${b.y + 18}` }); })),
    stages.map((s) => { const p = pos.get(s.name); return h("svg:g", { class: `node ${s.state}`, "data-stage": s.name }, h("svg:rect", { x: p.x, y: p.y, width: 140, height: 36 }), h("svg:text", { x: p.x + 8, y: p.y + 15 }, s.name), h("svg:text", { x: p.x + 8, y: p.y + 29 }, s.state)); }));
}

function grid(g) {
  return h("table", { class: "grid", id: "grid" },
    h("tr", {}, h("th", {}, "stage \\ due"), g.runs.map((r) => h("th", { title: `${r.id}: ${r.state}` }, h("a", { href: `/runs/${encodeURIComponent(r.id)}` }, time(r.due).slice(11, 16))))),
    h("tr", {}, h("td", {}, h("b", {}, "run")), g.runs.map((r) => h("td", { class: `cell ${r.state}`, title: `${r.id}: ${r.state}` }))),
    g.stages.map((s) => h("tr", {}, h("td", {}, s), g.runs.map((r) => h("td", { class: `cell ${r.stages[s] ?? "pending"}`, title: `${s}: ${r.stages[s] ?? "pending"}` })))));
}

async function schedulesPage() {
  const v = await api("schedules");
  return [
    h("h1", {}, "Schedules"),
    noticeBox(),
    v.schedules.length ? h("table", { id: "schedules" }, h("tr", {}, ["NAME", "STATE", "EXPRESSION", "ZONE", "NEXT DUE", "RUNNING", "LAST RUNS", "", "BACKFILL"].map((t) => h("th", {}, t))),
      v.schedules.map((s) => {
        const name = encodeURIComponent(s.name);
        const from = h("input", { type: "text", placeholder: "from (ISO)", "aria-label": "from" }), to = h("input", { type: "text", placeholder: "to (ISO)", "aria-label": "to" });
        return h("tr", { "data-schedule": s.name }, h("td", {}, s.name, h("div", { class: "muted" }, s.module)), h("td", {}, state(s.state)),
          h("td", { class: "mono" }, s.cron !== undefined ? `cron ${s.cron}` : `every ${dur(s.every)}`), h("td", {}, s.tz), h("td", {}, time(s.nextDue)),
          h("td", { class: "mono" }, s.running ? h("a", { href: `/runs/${encodeURIComponent(s.running)}` }, s.running) : "-"),
          h("td", {}, lastRuns(s.history).map((e) => h("div", {}, state(e.outcome), " ", e.run ? h("a", { href: `/runs/${encodeURIComponent(e.run)}` }, time(e.due)) : time(e.due)))),
          h("td", {}, s.state === "paused" ? h("button", { onclick: () => act(`schedules/${name}/resume`, {}, `${s.name} resumed`) }, "Resume") : h("button", { onclick: () => act(`schedules/${name}/pause`, {}, `${s.name} paused`) }, "Pause")),
          h("td", {}, h("form", { class: "inline", onsubmit: (ev) => { ev.preventDefault(); act(`schedules/${name}/backfill`, { from: from.value, to: to.value }, `backfill of ${s.name} queued`); } }, from, to, h("button", {}, "Backfill"))));
      })) : h("p", { class: "muted" }, "no schedules"),
  ];
}

/** A schedule's latest outcomes: a run's `started` entry only while no later entry tells how it ended. */
function lastRuns(history) {
  const ended = new Set(history.filter((e) => e.outcome !== "started" && e.run).map((e) => e.run));
  return history.filter((e) => e.outcome !== "started" || !ended.has(e.run)).slice(0, 5);
}

async function workersPage() {
  const v = await api("workers");
  return [
    h("h1", {}, "Workers"),
    h("p", { class: "muted" }, `task queue: ${Object.entries(v.queue).map(([k, n]) => `${k} ${n}`).join(", ")}`),
    v.workers.length ? h("table", { id: "workers" }, h("tr", {}, ["WORKER", "HOST", "PID", "THREADS", "RUNNING", "MEMORY", "VERSION", "UP", "LAST BEAT"].map((t) => h("th", {}, t))),
      v.workers.map((w) => h("tr", {}, h("td", { class: "mono" }, w.id), h("td", {}, w.host), h("td", {}, w.pid), h("td", {}, w.threads),
        h("td", { title: w.running.join("\n") }, w.runningCount), h("td", {}, bytes(w.rss)), h("td", {}, w.version), h("td", {}, dur(v.now - w.startedAt)), h("td", {}, `${dur(Math.max(0, v.now - w.at))} ago`))))
      : h("p", { class: "muted" }, "no live worker"),
    h("p", { class: "muted" }, "Workers by their heartbeats, as sheaf workers lists them; hover a RUNNING count for the attempts it holds."),
  ];
}

// Routing and live updates.
function route() {
  const path = location.pathname;
  let m;
  if ((m = /^\/jobs\/([^/]+)$/.exec(path))) return { nav: "jobs", id: decodeURIComponent(m[1]), job: true, draw: () => jobPage(decodeURIComponent(m[1])) };
  if ((m = /^\/runs\/([^/]+)$/.exec(path))) return { nav: "jobs", id: decodeURIComponent(m[1]), draw: () => runPage(decodeURIComponent(m[1])) };
  if (path === "/schedules") return { nav: "schedules", draw: schedulesPage };
  if (path === "/workers") return { nav: "workers", draw: workersPage };
  return { nav: "jobs", draw: jobsPage };
}

const current = route();
let drawing = false, again = false, lastDraw = 0, timer, redrawEvery = 1000;

async function draw() {
  if (drawing) return void (again = true);
  drawing = true;
  try {
    const content = await current.draw();
    $page.replaceChildren(...[content].flat(3).filter(Boolean));
    document.body.dataset.drawn = String(Date.now());
  } catch (err) {
    $page.replaceChildren(h("div", { class: "notice refused" }, String(err.message ?? err)));
  } finally {
    drawing = false;
    lastDraw = Date.now();
    if (again) { again = false; soon(); }
  }
}

/** Redraws at most once a second (a large job's page less often), however many events arrive. */
function soon() {
  if (timer) return;
  timer = setTimeout(() => { timer = undefined; draw(); }, Math.max(0, redrawEvery - (Date.now() - lastDraw)));
}

function listen() {
  // A job's page follows its timeline too: the server pushes the attempts that end.
  const es = new EventSource(current.job ? `/events?job=${encodeURIComponent(current.id)}` : "/events");
  const dot = document.getElementById("live");
  let opened = false;
  es.onopen = () => {
    dot.classList.add("on");
    // Reopened after a break: what ended meanwhile was pushed to nobody; read it.
    if (opened && current.job) { followed.stale = true; soon(); }
    opened = true;
  };
  es.onerror = () => dot.classList.remove("on");
  es.addEventListener("cluster", (e) => {
    if (!current.job) return soon();
    // A job's page reads its record again only for an event about it (it ended, it was cancelled).
    if (JSON.parse(e.data).id === current.id) { followed.stale = true; soon(); }
  });
  es.addEventListener("progress", (e) => {
    const changed = JSON.parse(e.data);
    if (current.onProgress?.(changed)) return; // drawn in place
    if (!current.id || current.id in changed) soon();
  });
  es.addEventListener("timeline", (e) => {
    let slice;
    try {
      slice = JSON.parse(e.data); // the server passes the timeline's rows on unparsed
    } catch {
      if (current.job) { followed.stale = true; soon(); } // read them instead, checked
      return;
    }
    current.onTimeline?.(slice);
  });
}

async function start() {
  for (const a of document.querySelectorAll("[data-nav]")) if (a.dataset.nav === current.nav) a.classList.add("active");
  session = await api("session").catch(() => session);
  const s = document.getElementById("session");
  s.replaceChildren(...[session.actions ? "actions enabled" : "read-only",
    session.actions ? null : h("button", { onclick: () => { const t = prompt("Dashboard token (SHEAF_UI_TOKEN)"); if (t) location.search = `?token=${encodeURIComponent(t)}`; } }, "Enter token")].filter(Boolean));
  await draw();
  listen();
}

start();
