import { describe, expect, it } from "vitest";
import { defaultRepeatStrategy } from "bullmq";
import { dueTimes, logicalDate, nextDue, parseEvery, validateSchedule, type ScheduleSpec } from "../../core/schedule-clock.js";
import { SheafError } from "../../core/errors.js";
import { showDuration } from "../../core/show.js";
import { SERVICE_DEFAULTS } from "../../core/defaults.js";

// ---------------------------------------------------------------------------------------------
// Independent oracles.
// ---------------------------------------------------------------------------------------------

const at = (iso: string) => new Date(iso);
const isos = (ds: Date[]) => ds.map((d) => d.toISOString());

/** The local wall clock of an instant in a zone, as "YYYY-MM-DD HH:mm:ss" (Swedish locale is ISO-like). */
function wallClock(d: Date, timeZone: string): string {
  return new Intl.DateTimeFormat("sv-SE", {
    timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  }).format(d);
}

function runsPerLocalDay(ds: Date[], timeZone: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const d of ds) {
    const day = wallClock(d, timeZone).slice(0, 10);
    counts.set(day, (counts.get(day) ?? 0) + 1);
  }
  return counts;
}

/** Every calendar date from `first` to `last` ("YYYY-MM-DD"), inclusive. */
function calendarDays(first: string, last: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${first}T00:00:00Z`); t <= Date.parse(`${last}T00:00:00Z`); t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

/**
 * A port of BullMQ 6.7's getJobSchedulerEveryNextMillis.lua: the instants an `every` scheduler fires at
 * when it is upserted at `createdAt` and each run is picked up on time.
 */
function bullmqEverySchedule(every: number, createdAt: number, opts: { startDate?: number; offset?: number }, runs: number): number[] {
  let next: number;
  let offset = opts.offset ?? 0;
  if (opts.startDate !== undefined) next = Math.max(opts.startDate, createdAt);
  else if (offset > 0) {
    next = Math.floor(createdAt / every) * every + offset;
    if (next <= createdAt) next += every;
  } else next = createdAt;
  if (offset === 0) offset = next - Math.floor(next / every) * every;
  const out = [next];
  for (let i = 1; i < runs; i++) {
    const now = next; // the previous run was picked up on time
    next = next + every;
    if (next < now) {
      const aligned = Math.floor(now / every) * every + offset;
      next = aligned <= now ? aligned + every : aligned;
    }
    out.push(next);
  }
  return out;
}

function expectSheafError(fn: () => unknown, code: string, ...fragments: string[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SheafError);
  expect((caught as SheafError).code).toBe(code);
  for (const f of fragments) expect((caught as Error).message).toContain(f);
}

// ---------------------------------------------------------------------------------------------

describe("showDuration", () => {
  it("prints a duration parseEvery reads back to the same milliseconds, in the largest whole unit", () => {
    const cases: [number, string][] = [[SERVICE_DEFAULTS.keepForMs, "7d"], [SERVICE_DEFAULTS.artifactGraceMs, "1h"], [90_000, "90s"], [1_500, "1500ms"], [30 * 60_000, "30m"]];
    for (const [ms, text] of cases) {
      expect(showDuration(ms)).toBe(text);
      expect(parseEvery(showDuration(ms))).toBe(ms);
    }
  });
});

describe("parseEvery", () => {
  it.each([
    ["10s", 10_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1d", 86_400_000],
    ["90s", 90_000],
    ["1500ms", 1_500],
    ["1000ms", 1_000],
    ["1s", 1_000],
    [" 15m ", 900_000],
  ])("%j is %d ms", (text, ms) => {
    expect(parseEvery(text)).toBe(ms);
  });

  it.each(["500ms", "999ms", "0s", "0d", "10", "s", "", "1.5h", "-5m", "10 s", "5M", "1w", "ten s", "1e3s", "99999999999999999d"])(
    "rejects %j with BAD_ARGUMENT naming it",
    (text) => {
      expectSheafError(() => parseEvery(text), "BAD_ARGUMENT", JSON.stringify(text));
    },
  );

  it("says why a short interval is rejected", () => {
    expect(() => parseEvery("500ms")).toThrow(/at least 1s/);
    expect(() => parseEvery("10")).toThrow(/unit/);
  });
});

describe("every", () => {
  it("due times are the multiples of the period since the epoch, bounds included", () => {
    for (const every of [1_000, 7_000, 10_000, 90_000]) {
      const from = Date.parse("2026-05-05T10:00:00.000Z") - 123;
      const to = from + 5 * 60_000 + 777;
      // Brute force, one millisecond at a time.
      const expected: number[] = [];
      for (let t = from; t <= to; t++) if (t % every === 0) expected.push(t);
      expect(dueTimes({ everyMs: every }, new Date(from), new Date(to)).map((d) => d.getTime())).toEqual(expected);
    }
  });

  it("hourly and daily periods land on whole UTC hours and UTC midnights", () => {
    expect(isos(dueTimes({ everyMs: parseEvery("1h") }, at("2026-01-01T22:10:00Z"), at("2026-01-02T01:00:00Z")))).toEqual([
      "2026-01-01T23:00:00.000Z",
      "2026-01-02T00:00:00.000Z",
      "2026-01-02T01:00:00.000Z",
    ]);
    expect(isos(dueTimes({ everyMs: parseEvery("1d") }, at("2026-03-28T12:00:00Z"), at("2026-03-31T00:00:00Z")))).toEqual([
      "2026-03-29T00:00:00.000Z",
      "2026-03-30T00:00:00.000Z",
      "2026-03-31T00:00:00.000Z",
    ]);
  });

  it("nextDue is strictly after", () => {
    const spec = { everyMs: 10_000 };
    expect(nextDue(spec, new Date(20_000)).getTime()).toBe(30_000);
    expect(nextDue(spec, new Date(19_999)).getTime()).toBe(20_000);
    expect(nextDue(spec, new Date(20_001)).getTime()).toBe(30_000);
  });

  it("match what BullMQ fires when registered with startDate = nextDue(now), or offset = every", () => {
    for (const every of [1_000, 10_000, 300_000, 86_400_000]) {
      for (const createdAt of [Date.parse("2026-07-01T12:34:56.789Z"), Date.parse("2026-07-01T00:00:00.000Z"), 1_795_924_991_095]) {
        const spec = { everyMs: every };
        const first = nextDue(spec, new Date(createdAt));
        const ours = dueTimes(spec, first, new Date(first.getTime() + 19 * every)).map((d) => d.getTime());
        expect(ours).toHaveLength(20);
        expect(bullmqEverySchedule(every, createdAt, { startDate: first.getTime() }, 20)).toEqual(ours);
        expect(bullmqEverySchedule(every, createdAt, { offset: every }, 20)).toEqual(ours);
      }
    }
  });

  it("(a plain BullMQ { every } scheduler is phased to its creation time instead, which is why the above is needed)", () => {
    const createdAt = Date.parse("2026-07-01T12:34:56.789Z");
    expect(bullmqEverySchedule(10_000, createdAt, {}, 3)).toEqual([createdAt, createdAt + 10_000, createdAt + 20_000]);
  });

  it("rejects periods under 1 s or not whole milliseconds", () => {
    for (const everyMs of [999, 0, -1000, 1500.5, NaN, Infinity]) {
      expectSheafError(() => validateSchedule({ everyMs }), "INVALID_SCHEDULE", "interval");
      expectSheafError(() => nextDue({ everyMs }, new Date()), "INVALID_SCHEDULE");
    }
    expect(() => validateSchedule({ everyMs: 1000 })).not.toThrow();
  });
});

describe("cron", () => {
  it("6 fields have seconds first: */15 * * * * * is every 15 s", () => {
    expect(isos(dueTimes({ cron: "*/15 * * * * *" }, at("2026-01-01T00:00:00Z"), at("2026-01-01T00:01:00Z")))).toEqual([
      "2026-01-01T00:00:00.000Z",
      "2026-01-01T00:00:15.000Z",
      "2026-01-01T00:00:30.000Z",
      "2026-01-01T00:00:45.000Z",
      "2026-01-01T00:01:00.000Z",
    ]);
  });

  it("5 fields start at minutes", () => {
    expect(isos(dueTimes({ cron: "0 */6 * * *" }, at("2026-01-01T00:00:00Z"), at("2026-01-02T00:00:00Z")))).toEqual([
      "2026-01-01T00:00:00.000Z",
      "2026-01-01T06:00:00.000Z",
      "2026-01-01T12:00:00.000Z",
      "2026-01-01T18:00:00.000Z",
      "2026-01-02T00:00:00.000Z",
    ]);
    expect(nextDue({ cron: "30 2 * * *" }, at("2026-01-01T00:00:00Z")).toISOString()).toBe("2026-01-01T02:30:00.000Z");
  });

  it("nextDue is strictly after, and rounds milliseconds up", () => {
    const spec = { cron: "*/15 * * * * *" };
    expect(nextDue(spec, at("2026-01-01T00:00:15.000Z")).toISOString()).toBe("2026-01-01T00:00:30.000Z");
    expect(nextDue(spec, at("2026-01-01T00:00:14.999Z")).toISOString()).toBe("2026-01-01T00:00:15.000Z");
    expect(nextDue(spec, at("2026-01-01T00:00:15.001Z")).toISOString()).toBe("2026-01-01T00:00:30.000Z");
  });

  it("no zone means UTC, whatever the zone of the process", () => {
    expect(nextDue({ cron: "0 9 * * *" }, at("2026-06-01T00:00:00Z")).toISOString()).toBe("2026-06-01T09:00:00.000Z");
    expect(nextDue({ cron: "0 9 * * *", tz: "UTC" }, at("2026-06-01T00:00:00Z")).toISOString()).toBe("2026-06-01T09:00:00.000Z");
  });

  it("agrees with BullMQ's repeat strategy (given the zone)", () => {
    const cases: [string, string][] = [
      ["30 2 * * *", "Europe/Berlin"],
      ["30 1 * * *", "America/New_York"],
      ["30 2 * * *", "America/New_York"],
      ["*/30 * * * *", "Europe/Berlin"],
      ["*/15 * * * * *", "UTC"],
      ["0 9 * * MON-FRI", "Asia/Kolkata"],
      ["0 0 L * *", "Australia/Lord_Howe"],
    ];
    const starts = ["2026-03-07T00:00:00Z", "2026-03-28T23:59:59.500Z", "2026-03-29T01:00:00Z", "2026-10-25T00:30:00.050Z", "2026-10-25T01:05:00Z", "2026-10-31T23:00:00Z"];
    for (const [cron, tz] of cases) {
      for (const start of starts) {
        let t = Date.parse(start);
        for (let i = 0; i < 30; i++) {
          const theirs = defaultRepeatStrategy(t, { pattern: cron, tz });
          const ours = nextDue({ cron, tz }, new Date(t)).getTime();
          expect(ours, `${cron} ${tz} after ${new Date(t).toISOString()}`).toBe(theirs);
          t = ours;
        }
      }
    }
  });

  it.each([
    ["* * *", "3 field(s)"],
    ["* * * *", "4 field(s)"],
    ["", "0 field(s)"],
    ["@daily", "1 field(s)"],
    ["* * * * * * *", "7 field(s)"],
    ["61 * * * *", "Constraint"],
    ["0 0 30 2 *", "day of month"],
    ["foo * * * *", "foo"],
    ["H * * * *", "hashed"],
    ["0 H(0-5) * * *", "hashed"],
  ])("rejects %j, naming it", (cron, why) => {
    expectSheafError(() => validateSchedule({ cron }), "INVALID_SCHEDULE", JSON.stringify(cron), why);
    expectSheafError(() => nextDue({ cron }, new Date()), "INVALID_SCHEDULE", JSON.stringify(cron));
  });

  it("accepts names of months and weekdays, even with an H in them", () => {
    expect(() => validateSchedule({ cron: "0 9 * JAN-MAR THU" })).not.toThrow();
    expect(() => validateSchedule({ cron: "0 0 9 * * thu,sat", tz: "Europe/Berlin" })).not.toThrow();
    expect(nextDue({ cron: "0 9 * * THU" }, at("2026-01-01T09:00:00Z")).toISOString()).toBe("2026-01-08T09:00:00.000Z"); // Jan 1 2026 is a Thursday
  });

  it.each(["Mars/Olympus", "", "+01:00", "Europe/Berlinn"])("rejects the zone %j, naming it", (tz) => {
    expectSheafError(() => validateSchedule({ cron: "0 9 * * *", tz }), "INVALID_SCHEDULE", `time zone ${JSON.stringify(tz)}`);
    expectSheafError(() => dueTimes({ cron: "0 9 * * *", tz }, at("2026-01-01T00:00:00Z"), at("2026-01-02T00:00:00Z")), "INVALID_SCHEDULE", JSON.stringify(tz));
    expectSheafError(() => logicalDate(new Date(), tz), "INVALID_SCHEDULE", JSON.stringify(tz));
  });

  it("rejects a spec with both or neither kind", () => {
    expectSheafError(() => validateSchedule({ cron: "* * * * *", everyMs: 1000 } as unknown as ScheduleSpec), "INVALID_SCHEDULE", "exactly one");
    expectSheafError(() => validateSchedule({} as unknown as ScheduleSpec), "INVALID_SCHEDULE", "exactly one");
  });
});

describe("time zones and daylight-saving time", () => {
  it("Europe/Berlin 30 2 * * * runs once per local day across spring forward (02:30 does not exist: runs at 03:30 CEST)", () => {
    const tz = "Europe/Berlin";
    const runs = dueTimes({ cron: "30 2 * * *", tz }, at("2026-03-24T23:00:00Z"), at("2026-04-02T22:00:00Z"));
    const counts = runsPerLocalDay(runs, tz);
    expect([...counts.keys()]).toEqual(calendarDays("2026-03-25", "2026-04-02"));
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    for (const d of runs) expect(wallClock(d, tz).slice(11)).toBe(wallClock(d, tz).startsWith("2026-03-29") ? "03:30:00" : "02:30:00");
    expect(isos(runs.filter((d) => wallClock(d, tz).startsWith("2026-03-29")))).toEqual(["2026-03-29T01:30:00.000Z"]);
  });

  it("Europe/Berlin 30 2 * * * runs once across fall back (02:30 happens twice: the first, CEST, one)", () => {
    const tz = "Europe/Berlin";
    const runs = dueTimes({ cron: "30 2 * * *", tz }, at("2026-10-20T22:00:00Z"), at("2026-10-29T23:00:00Z"));
    const counts = runsPerLocalDay(runs, tz);
    expect([...counts.keys()]).toEqual(calendarDays("2026-10-21", "2026-10-29"));
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    for (const d of runs) expect(wallClock(d, tz).slice(11)).toBe("02:30:00");
    expect(isos(runs.filter((d) => wallClock(d, tz).startsWith("2026-10-25")))).toEqual(["2026-10-25T00:30:00.000Z"]);
  });

  it("America/New_York: 02:30 on 2026-03-08 runs at 03:30 EDT; 01:30 on 2026-11-01 runs once, at the EDT one", () => {
    const tz = "America/New_York";
    const spring = dueTimes({ cron: "30 2 * * *", tz }, at("2026-03-05T05:00:00Z"), at("2026-03-12T04:00:00Z"));
    const springCounts = runsPerLocalDay(spring, tz);
    expect([...springCounts.keys()]).toEqual(calendarDays("2026-03-05", "2026-03-11"));
    expect([...springCounts.values()].every((n) => n === 1)).toBe(true);
    expect(spring.filter((d) => wallClock(d, tz).startsWith("2026-03-08")).map((d) => wallClock(d, tz))).toEqual(["2026-03-08 03:30:00"]);

    // In New York the repeated hour is 01:00-01:59 (02:00 EDT becomes 01:00 EST).
    const fall = dueTimes({ cron: "30 1 * * *", tz }, at("2026-10-29T04:00:00Z"), at("2026-11-05T05:00:00Z"));
    const fallCounts = runsPerLocalDay(fall, tz);
    expect([...fallCounts.keys()]).toEqual(calendarDays("2026-10-29", "2026-11-04"));
    expect([...fallCounts.values()].every((n) => n === 1)).toBe(true);
    expect(isos(fall.filter((d) => wallClock(d, tz).startsWith("2026-11-01")))).toEqual(["2026-11-01T05:30:00.000Z"]);
    // And the non-repeated 02:30 stays a plain single run that day.
    const fall230 = dueTimes({ cron: "30 2 * * *", tz }, at("2026-10-31T04:00:00Z"), at("2026-11-03T05:00:00Z"));
    expect([...runsPerLocalDay(fall230, tz).values()]).toEqual([1, 1, 1]);
  });

  it("a schedule more often than hourly runs in both copies of the repeated hour, and skips the missing one", () => {
    const tz = "Europe/Berlin";
    const counts = runsPerLocalDay(dueTimes({ cron: "*/30 * * * *", tz }, at("2026-03-28T23:00:00Z"), at("2026-03-29T21:59:59Z")), tz);
    expect(counts.get("2026-03-29")).toBe(23 * 2);
    const fall = runsPerLocalDay(dueTimes({ cron: "*/30 * * * *", tz }, at("2026-10-24T22:00:00Z"), at("2026-10-25T22:59:59Z")), tz);
    expect(fall.get("2026-10-25")).toBe(25 * 2);
  });

  it("documented edges: where the search starts matters inside the shifted hours", () => {
    const spec = { cron: "30 2 * * *", tz: "Europe/Berlin" };
    // Spring forward: starting at 03:00 CEST or later, the moved 03:30 run of that day is not due.
    expect(nextDue(spec, at("2026-03-29T00:59:59Z")).toISOString()).toBe("2026-03-29T01:30:00.000Z");
    expect(nextDue(spec, at("2026-03-29T01:00:00Z")).toISOString()).toBe("2026-03-30T00:30:00.000Z");
    expect(dueTimes(spec, at("2026-03-29T01:10:00Z"), at("2026-03-29T21:00:00Z"))).toEqual([]);
    // Fall back: after the first 02:30 the next is the next day; starting in the repeated hour finds the second 02:30.
    expect(nextDue(spec, at("2026-10-25T00:30:00Z")).toISOString()).toBe("2026-10-26T01:30:00.000Z");
    expect(nextDue(spec, at("2026-10-25T01:00:00Z")).toISOString()).toBe("2026-10-25T01:30:00.000Z");
  });
});

describe("logicalDate", () => {
  it("is the local date and time in the schedule's zone", () => {
    expect(logicalDate(at("2026-06-30T22:30:00Z"), "Europe/Berlin")).toEqual({ date: "2026-07-01", time: "2026-07-01T00-30-00" });
    expect(logicalDate(at("2026-07-01T03:59:07Z"), "America/New_York")).toEqual({ date: "2026-06-30", time: "2026-06-30T23-59-07" });
    expect(logicalDate(at("2026-01-01T00:00:00Z"), "Asia/Kolkata")).toEqual({ date: "2026-01-01", time: "2026-01-01T05-30-00" });
  });

  it("is UTC without a zone, with midnight as 00", () => {
    expect(logicalDate(at("2026-06-30T22:30:00Z"))).toEqual({ date: "2026-06-30", time: "2026-06-30T22-30-00" });
    expect(logicalDate(at("2026-07-01T00:00:00.999Z"))).toEqual({ date: "2026-07-01", time: "2026-07-01T00-00-00" });
  });

  it("agrees with the wall clock for every run across DST", () => {
    for (const tz of ["Europe/Berlin", "America/New_York"]) {
      for (const d of dueTimes({ cron: "0 */20 * * * *", tz }, at("2026-10-24T00:00:00Z"), at("2026-11-02T12:00:00Z"))) {
        const wall = wallClock(d, tz);
        expect(logicalDate(d, tz)).toEqual({ date: wall.slice(0, 10), time: `${wall.slice(0, 10)}T${wall.slice(11).replaceAll(":", "-")}` });
      }
    }
  });

  it("gives the same time to both copies of a repeated hour", () => {
    expect(logicalDate(at("2026-10-25T00:30:00Z"), "Europe/Berlin")).toEqual(logicalDate(at("2026-10-25T01:30:00Z"), "Europe/Berlin"));
  });
});

describe("dueTimes bounds and limit", () => {
  it("includes both bounds", () => {
    const spec = { cron: "0 * * * *" };
    expect(isos(dueTimes(spec, at("2026-01-01T01:00:00Z"), at("2026-01-01T03:00:00Z")))).toEqual([
      "2026-01-01T01:00:00.000Z",
      "2026-01-01T02:00:00.000Z",
      "2026-01-01T03:00:00.000Z",
    ]);
    expect(isos(dueTimes(spec, at("2026-01-01T01:00:00.001Z"), at("2026-01-01T02:59:59.999Z")))).toEqual(["2026-01-01T02:00:00.000Z"]);
    expect(isos(dueTimes(spec, at("2026-01-01T01:00:00Z"), at("2026-01-01T01:00:00Z")))).toEqual(["2026-01-01T01:00:00.000Z"]);
    expect(dueTimes(spec, at("2026-01-01T01:00:01Z"), at("2026-01-01T01:59:59Z"))).toEqual([]);
    expect(isos(dueTimes({ everyMs: 3_600_000 }, at("2026-01-01T01:00:00Z"), at("2026-01-01T01:00:00Z")))).toEqual(["2026-01-01T01:00:00.000Z"]);
    expect(dueTimes({ everyMs: 3_600_000 }, at("2026-01-01T01:00:01Z"), at("2026-01-01T01:59:59Z"))).toEqual([]);
  });

  it("is oldest first and chained like BullMQ (each the next after the previous)", () => {
    const spec = { cron: "15 */7 * * *", tz: "Europe/Berlin" };
    const runs = dueTimes(spec, at("2026-03-20T00:00:00Z"), at("2026-04-10T00:00:00Z"));
    for (let i = 1; i < runs.length; i++) expect(nextDue(spec, runs[i - 1]!).getTime()).toBe(runs[i]!.getTime());
  });

  it("throws past the limit, with the count", () => {
    const day = [at("2026-01-01T00:00:00Z"), at("2026-01-02T00:00:00Z")] as const;
    expectSheafError(() => dueTimes({ everyMs: 1000 }, ...day), "TOO_MANY_RUNS", "86401 times", "limit of 10000");
    expectSheafError(() => dueTimes({ cron: "* * * * * *" }, ...day), "TOO_MANY_RUNS", "about 8640", "limit of 10000");
    expect(dueTimes({ everyMs: 1000 }, ...day, 86_401)).toHaveLength(86_401);
    expect(dueTimes({ cron: "0 * * * *" }, ...day, 25)).toHaveLength(25);
    expectSheafError(() => dueTimes({ cron: "0 * * * *" }, ...day, 24), "TOO_MANY_RUNS", "about 25 times", "limit of 24");
    expectSheafError(() => dueTimes({ everyMs: 3_600_000 }, ...day, 24), "TOO_MANY_RUNS", "25 times");
  });

  it("rejects a range whose start is after its end, and invalid dates", () => {
    expectSheafError(() => dueTimes({ everyMs: 1000 }, at("2026-01-02T00:00:00Z"), at("2026-01-01T00:00:00Z")), "INVALID_RANGE", "2026-01-02T00:00:00.000Z");
    expectSheafError(() => dueTimes({ everyMs: 1000 }, new Date(NaN), new Date()), "BAD_TIME", "from is not a valid date");
    expectSheafError(() => nextDue({ cron: "* * * * *" }, new Date("nope")), "BAD_TIME", "is not a valid date");
  });
});
