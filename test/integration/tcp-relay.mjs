// A TCP relay in its own process for hosts.ts: connections to ADDRESS (the hosts' bridge) piped to
// TARGET_HOST:TARGET_PORT in the root namespace, for a server that listens on loopback only (the
// machine's PostgreSQL) and is not to be reconfigured. Its own process, so a test blocked in
// spawnSync does not stall what the hosts send through it. Arguments: ADDRESS TARGET_HOST TARGET_PORT.
// A free port is taken with no race: the bound port is printed once as one JSON line.
import { connect, createServer } from "node:net";

const [address, targetHost, targetPort] = process.argv.slice(2);
if (!address || !targetHost || !targetPort) {
  console.error("usage: tcp-relay.mjs ADDRESS TARGET_HOST TARGET_PORT");
  process.exit(2);
}

const sockets = new Set();
const server = createServer((client) => {
  const upstream = connect(Number(targetPort), targetHost);
  for (const [from, to] of [[client, upstream], [upstream, client]]) {
    sockets.add(from);
    from.pipe(to);
    // An end is passed on by pipe(); a reset or an error on one side destroys the other.
    from.on("error", () => to.destroy());
    from.on("close", () => sockets.delete(from));
  }
});
server.listen(0, address, () => console.log(JSON.stringify({ port: server.address().port })));

const stop = () => {
  for (const s of sockets) s.destroy();
  server.close(() => process.exit(0));
};
process.on("SIGTERM", stop);
// Its stdin is a pipe from the test process: end of input means that process died (a crashed test).
process.stdin.on("end", stop).resume();
