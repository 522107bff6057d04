// Runs s3rver in its own process for object-store.ts, so a fault test can SIGKILL the store and its
// event loop never shares the test's. Arguments: ADDRESS PORT DIRECTORY.
// Port 0 takes a free port with no race: the bound address is printed once as one JSON line.
import { createRequire } from "node:module";
import S3rver from "s3rver";

const [address = "127.0.0.1", port = "0", directory] = process.argv.slice(2);
if (!directory) {
  console.error("usage: s3rver-runner.mjs ADDRESS PORT DIRECTORY");
  process.exit(2);
}

// S3 URL-decodes x-amz-copy-source whole; s3rver uses decodeURI, which leaves %3D, %2C, %3A, %40
// and the like encoded, so a key like `date=2026-11-28/x` (encoded as clients encode it) is not found.
// Re-encoded here so that its decodeURI gives what S3's decoding gives: a mend for s3rver alone,
// kept out of the engine. Its router looks the controller up on each request, after authentication.
const objects = createRequire(import.meta.url)("s3rver/lib/controllers/object.js");
const copy = objects.putObjectCopy;
objects.putObjectCopy = (ctx) => {
  ctx.headers["x-amz-copy-source"] = encodeURI(decodeURIComponent(ctx.headers["x-amz-copy-source"]));
  return copy(ctx);
};

const server = new S3rver({
  address,
  port: Number(port),
  directory,
  silent: true,
  // Path-style only: hosts reach the store by IP address, where a virtual-host bucket cannot work.
  vhostBuckets: false,
});
const bound = await server.run();
console.log(JSON.stringify({ address: bound.address, port: bound.port }));

// The harness stops the store with SIGTERM; close so the port is free when the process ends.
const stop = () => void server.close().finally(() => process.exit(0));
process.on("SIGTERM", stop);
// Its stdin is a pipe from the test process: end of input means that process died (a crashed test).
process.stdin.on("end", stop).resume();
