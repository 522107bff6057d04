// Shared by the hand-written word-count baselines (scanner.mjs, wordcount-loop.mjs): their command
// line, and `--threads N` as they both do it: the file cut into N ranges at newline boundaries, the
// main thread working the first and N - 1 worker threads (the same script) the others.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

/**
 * Runs `work(fd, from, to)` over the input's ranges. On a worker thread: works its range and posts
 * `toMessage(result)` ([message, transfer list]) to the main thread, and returns undefined. On the
 * main thread: returns its own range's result, the output path, and the other threads' messages.
 */
export async function overRanges(script, usage, work, toMessage) {
  if (!isMainThread) {
    const { input, from, to } = workerData;
    const fd = openSync(input, "r");
    const [message, transfer] = toMessage(work(fd, from, to));
    closeSync(fd);
    parentPort.postMessage(message, transfer);
    return undefined;
  }
  const args = process.argv.slice(2);
  const t = args.indexOf("--threads");
  const threads = t >= 0 ? Number(args.splice(t, 2)[1]) : 1;
  const [input, output] = args;
  if (!input || !output || !Number.isInteger(threads) || threads < 1) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  const fd = openSync(input, "r");
  const size = fstatSync(fd).size;
  const bounds = [0];
  for (let k = 1; k < threads; k++) bounds.push(Math.max(bounds[k - 1], lineStart(fd, Math.floor((size * k) / threads), size)));
  bounds.push(size);
  const others = [];
  for (let k = 1; k < threads; k++) {
    const worker = new Worker(script, { workerData: { input, from: bounds[k], to: bounds[k + 1] } });
    others.push(new Promise((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    }));
  }
  const mine = work(fd, bounds[0], bounds[1]);
  closeSync(fd);
  return { mine, output, others: await Promise.all(others) };
}

/** Where the range starting near `at` really starts: just past the next newline at or after `at - 1`. */
function lineStart(fd, at, size) {
  if (at <= 0) return 0;
  const buf = Buffer.allocUnsafe(64 << 10);
  for (let pos = at - 1; pos < size; ) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    const nl = buf.subarray(0, n).indexOf(10);
    if (nl >= 0) return pos + nl + 1;
    pos += n;
  }
  return size;
}
