/**
 * The multi-host harness keeps its promises (issue 19): hosts reach Redis and the store over the
 * bridge and nothing else of each other's, a cut host is unreachable until healed, a killed host
 * loses every process and its local dir, and destroy() leaves nothing behind. Also what s3rver,
 * the store the harness starts, serves and refuses through the AWS SDK the engine uses.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import * as S3 from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Proc } from "./cluster-harness.js";
import { Scratch } from "./helpers.js";
import { Hosts, hostsUnavailable } from "./hosts.js";
import { startObjectStore, type ObjectStore } from "./object-store.js";

async function finished(p: Proc): Promise<string> {
  const code = await p.exited;
  if (code !== 0) throw new Error(`exited ${code}: ${p.output()}`);
  return p.output().trim();
}

/** What a TCP server at address:port says first, or "unreachable" within the timeout. */
function greeting(address: string, port: number, timeoutMs = 1_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, timeout: timeoutMs });
    let text = "";
    socket.on("data", (d) => (text += d));
    socket.on("end", () => resolve(text));
    socket.on("timeout", () => (socket.destroy(), resolve("unreachable")));
    socket.on("error", (err) => resolve(`error ${err.message}`));
  });
}

// A process that uses the SDK's standard chain only (endpoint from AWS_ENDPOINT_URL_S3), as the engine will.
const SDK_SCRIPT = `
import { S3Client, PutObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { hostname } from "node:os";
const c = new S3Client({ forcePathStyle: true });
const [op, bucket, key] = process.argv.slice(1);
if (op === "put") await c.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "written on " + hostname() }));
else console.log(await (await c.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body.transformToString());
`;

const unavailable = hostsUnavailable();

describe.skipIf(unavailable)(unavailable ? `hosts harness: ${unavailable}` : "hosts harness", () => {
  let net: Hosts;
  const started = Date.now();

  beforeAll(async () => {
    net = await Hosts.create("smoke", 2);
  });
  afterAll(async () => {
    await net?.destroy();
    console.log(`hosts harness: ${Date.now() - started} ms`);
  });

  it("hosts reach Redis and the store over the bridge, by their own names", async () => {
    const [a, b] = net.hosts as [Hosts["hosts"][0], Hosts["hosts"][0]];
    expect(net.bridgeAddress).toMatch(/^198\.1[89]\./);
    const port = new URL(net.redisUrl).port;
    expect(await finished(a.spawn("redis-cli", ["-h", net.bridgeAddress, "-p", port, "ping"]))).toBe("PONG");
    expect(await finished(b.spawn("hostname", []))).toBe("host1");
    expect(await finished(b.spawn("getent", ["hosts", "host0"]))).toMatch(new RegExp(`^${a.address.replace(/\./g, "\\.")}\\s+host0$`));

    const bucket = net.store!.bucket;
    await finished(a.spawn(process.execPath, ["--input-type=module", "-e", SDK_SCRIPT, "put", bucket, "hello"]));
    expect(await finished(b.spawn(process.execPath, ["--input-type=module", "-e", SDK_SCRIPT, "get", bucket, "hello"]))).toBe("written on host0");
  });

  it("a host's local dir is its own: not another host's, not the root namespace's", async () => {
    const [a, b] = net.hosts as [Hosts["hosts"][0], Hosts["hosts"][0]];
    expect(a.localDir).toBe(b.localDir); // the same path on every host, as on real machines
    await finished(a.spawn("sh", ["-c", `echo secret > ${a.localDir}/only-on-host0`]));
    expect(await finished(a.spawn("cat", [`${a.localDir}/only-on-host0`]))).toBe("secret"); // every process of the host sees it
    expect(await finished(b.spawn("ls", ["-A", b.localDir]))).toBe("tmp");
    expect(readdirSync(a.localDir)).toEqual([]);
    expect(await finished(a.spawn(process.execPath, ["-e", "console.log(require('node:os').tmpdir())"]))).toBe(join(a.localDir, "tmp"));
  });

  it("cut() takes a host off the network until heal(); its peers' connections are never answered", async () => {
    const [a, b] = net.hosts as [Hosts["hosts"][0], Hosts["hosts"][0]];
    const server = a.spawn(process.execPath, ["-e", "require('node:net').createServer((s) => s.end('hi from ' + require('node:os').hostname())).listen(7000, () => console.log('listening'))"]);
    await expect.poll(() => server.output(), { timeout: 5_000 }).toContain("listening");
    expect(await greeting(a.address, 7000)).toBe("hi from host0");
    const redisPing = ["2", "redis-cli", "-h", net.bridgeAddress, "-p", new URL(net.redisUrl).port, "ping"];

    a.cut();
    expect(await greeting(a.address, 7000)).toBe("unreachable");
    // Not refused, and not EHOSTUNREACH once ARP gives up (about 3 s): a peer's SYN goes unanswered.
    const peer = `const s = require("node:net").connect(7000, "${a.address}"); s.on("connect", () => console.log("connected")); s.on("error", (e) => console.log(e.code)); setTimeout(() => (console.log("no answer"), process.exit()), 4000);`;
    expect(await finished(b.spawn(process.execPath, ["-e", peer]))).toBe("no answer");
    expect(await a.spawn("timeout", redisPing).exited).toBe(124); // and Redis is out of its reach

    a.heal();
    await expect.poll(() => greeting(a.address, 7000), { timeout: 5_000 }).toBe("hi from host0");
    expect(await finished(a.spawn("timeout", redisPing))).toBe("PONG");
    server.child.kill("SIGTERM");
    await server.exited;
  });

  it("kill() ends every process of the host, children too, and its tmpfs with them", async () => {
    const b = net.hosts[1]!;
    await finished(b.spawn("sh", ["-c", `echo x > ${b.localDir}/before-kill`]));
    const lone = b.spawn("sleep", ["1000"]);
    const parent = b.spawn("sh", ["-c", "sleep 1000 & sleep 1000 & wait"]);
    await expect.poll(() => spawnSync("ip", ["netns", "pids", b.ns], { encoding: "utf8" }).stdout.trim().split("\n").length).toBe(5); // anchor, sleep, sh, 2 sleeps
    await b.kill();
    expect([await lone.exited, await parent.exited]).toEqual(["SIGKILL", "SIGKILL"]);
    expect(spawnSync("ip", ["netns", "pids", b.ns], { encoding: "utf8" }).stdout.trim()).toBe("");
    expect(() => b.spawn("true", [])).toThrow(/down/);

    await b.start(); // a rebooted host: an empty local dir
    expect(await finished(b.spawn("ls", ["-A", b.localDir]))).toBe("tmp");
  });

  it("destroy() leaves no namespace, link, process or /etc/netns entry", async () => {
    const namespaces = net.hosts.map((h) => h.ns);
    const links = [net.bridge, ...net.hosts.map((h) => h.link)];
    const straggler = net.hosts[0]!.spawn("sleep", ["1000"]);
    await net.destroy();
    expect(await straggler.exited).not.toBe(0);
    const netnsList = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
    const linkList = spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).stdout;
    for (const ns of namespaces) expect(netnsList).not.toContain(ns);
    for (const link of links) expect(linkList).not.toContain(link);
    for (const ns of namespaces) expect(existsSync(`/etc/netns/${ns}`)).toBe(false);
    expect(existsSync(net.root)).toBe(false);
    const { host, port } = new URL(net.redisUrl);
    const titles = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, "utf8");
      } catch {
        return ""; // ended while we looked
      }
    });
    expect(titles.filter((t) => t.startsWith(`redis-server ${host}:${port}`) || t.includes(net.root))).toEqual([]); // Redis, the store
  });
});

describe("object store (s3rver) through the AWS SDK", () => {
  const scratch = new Scratch("object-store");
  let store: ObjectStore;
  let s3: S3.S3Client;
  beforeAll(async () => {
    store = await startObjectStore(scratch.path("s3"));
    s3 = store.client();
  });
  afterAll(async () => {
    await store?.stop();
    scratch.cleanup();
  });

  it("serves what the engine needs", async () => {
    const Bucket = store.bucket;
    const put = await s3.send(new S3.PutObjectCommand({ Bucket, Key: "in/a.txt", Body: "hello world" }));
    const head = await s3.send(new S3.HeadObjectCommand({ Bucket, Key: "in/a.txt" }));
    expect([head.ETag, head.ContentLength]).toEqual([put.ETag, 11]);
    const ranged = await s3.send(new S3.GetObjectCommand({ Bucket, Key: "in/a.txt", Range: "bytes=6-10" }));
    expect(await ranged.Body!.transformToString()).toBe("world");

    const Key = "out/part-00000";
    const { UploadId } = await s3.send(new S3.CreateMultipartUploadCommand({ Bucket, Key }));
    const bodies = [Buffer.alloc(5 * 1024 * 1024, "a"), Buffer.from("tail")]; // every part but the last is >= 5 MiB
    const Parts = [];
    for (const [i, Body] of bodies.entries()) {
      const { ETag } = await s3.send(new S3.UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }));
      Parts.push({ PartNumber: i + 1, ETag });
    }
    await s3.send(new S3.CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
    expect((await s3.send(new S3.HeadObjectCommand({ Bucket, Key }))).ContentLength).toBe(5 * 1024 * 1024 + 4);

    // A copy, its source encoded as the engine encodes it (each segment by encodeURIComponent).
    const src = "tmp/date=2026-11-28/a b,c:d@e%f.txt";
    await s3.send(new S3.PutObjectCommand({ Bucket, Key: src, Body: "copied" }));
    await s3.send(new S3.CopyObjectCommand({ Bucket, Key: "copy.txt", CopySource: `${Bucket}/${src.split("/").map(encodeURIComponent).join("/")}` }));
    expect(await (await s3.send(new S3.GetObjectCommand({ Bucket, Key: "copy.txt" }))).Body!.transformToString()).toBe("copied");
    await s3.send(new S3.DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: src }, { Key: "copy.txt" }] } }));

    await s3.send(new S3.PutObjectCommand({ Bucket, Key: "in/b.txt", Body: "b" }));
    const top = await s3.send(new S3.ListObjectsV2Command({ Bucket, Delimiter: "/" }));
    expect(top.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["in/", "out/"]);
    const keys: string[] = [];
    for await (const page of S3.paginateListObjectsV2({ client: s3, pageSize: 1 }, { Bucket, Prefix: "in/" })) keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    expect(keys).toEqual(["in/a.txt", "in/b.txt"]);

    const deleted = await s3.send(new S3.DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: "in/a.txt" }, { Key: "in/b.txt" }] } }));
    expect(deleted.Deleted?.map((d) => d.Key).sort()).toEqual(["in/a.txt", "in/b.txt"]);
    expect((await s3.send(new S3.ListObjectsV2Command({ Bucket }))).Contents?.map((o) => o.Key)).toEqual([Key]);
  });

  // The commit protocol must be correct without these (issue 19, item 6): pinned so a change shows.
  it("refuses AbortMultipartUpload, ListParts and ListMultipartUploads", async () => {
    const Bucket = store.bucket;
    const Key = "pending";
    const { UploadId } = await s3.send(new S3.CreateMultipartUploadCommand({ Bucket, Key }));
    const status = (p: Promise<unknown>) => p.then(() => 200, (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode);
    expect(await status(s3.send(new S3.AbortMultipartUploadCommand({ Bucket, Key, UploadId })))).toBe(405);
    expect(await status(s3.send(new S3.ListPartsCommand({ Bucket, Key, UploadId })))).toBe(405);
    expect(await status(s3.send(new S3.ListMultipartUploadsCommand({ Bucket })))).toBe(501);
  });
});
