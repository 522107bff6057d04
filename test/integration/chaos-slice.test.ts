/**
 * A short slice of the seeded fault-injection runner (test/chaos, `npm run chaos`; issue 24): seed
 * 8, 90 s of faults (workers and coordinators SIGKILLed and SIGSTOPped, Redis SIGKILLed with and
 * without its AOF's last second, the small disk filled) under the four workloads, then up to 120 s
 * for what still runs. No output may be wrong, partial, doubled or lost, and no run may hang. On a
 * failure the message holds the seed, what went wrong and the whole fault schedule.
 */
import { expect, it } from "vitest";
import { runChaos } from "../chaos/runner.js";

it("a 90 s chaos slice (seed 8): nothing wrong, partial, doubled, lost or hung", async () => {
  const started = Date.now();
  const result = await runChaos({ seed: 8, minutes: 1.5, graceSeconds: 120 });
  console.log(`${result.text}\nslice wall time ${Math.round((Date.now() - started) / 1000)} s`);
  const s = result.summary;
  expect(s.faults, result.text).toBeGreaterThan(5);
  expect(s.completed, result.text).toBeGreaterThan(10);
  expect({ wrong: s.wrong, partial: s.partial, doubled: s.doubled, lost: s.lost, hung: s.hung, ok: s.ok }, result.text).toEqual({
    wrong: 0, partial: 0, doubled: 0, lost: 0, hung: 0, ok: true,
  });
}, 420_000);
