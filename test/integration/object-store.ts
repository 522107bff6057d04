/**
 * An S3-compatible store for one test: s3rver (objects kept on disk under `directory`) in a child
 * process, so a fault test can SIGKILL it and its event loop never shares the test's. Loopback on a
 * free port by default; Hosts starts it on the bridge address so namespaced hosts reach it.
 *
 * What s3rver 3.7 does, checked with @aws-sdk/client-s3 (see hosts-harness.test.ts): put, ranged
 * get, head (ETag), copy, multipart create/upload-part/complete, ListObjectsV2 with a delimiter and
 * pagination, DeleteObjects. It refuses AbortMultipartUpload and ListParts (405) and
 * ListMultipartUploads (501), ignores If-None-Match on put, and a multipart ETag has no "-N" suffix.
 * Its copy decodes the source's percent-escapes only partly (decodeURI): s3rver-runner.mjs mends
 * that, so keys like `date=2026-11-28/…` copy as on S3.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { CreateBucketCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Cluster } from "./cluster-harness.js";
import { CLI, REPO, type Scratch } from "./helpers.js";

const RUNNER = join(REPO, "test/integration/s3rver-runner.mjs");

export interface ObjectStore {
  /** http://ADDRESS:PORT, as AWS_ENDPOINT_URL_S3. */
  endpoint: string;
  bucket: string;
  /** The AWS SDK's standard variables for a process that uses this store (merge into its env). */
  env: Record<string, string>;
  /** A client for the test itself (path-style); destroyed by stop(). */
  client(): S3Client;
  /** SIGKILLs the server (a store that vanished); stop() still cleans up after it. */
  kill(): Promise<void>;
  stop(): Promise<void>;
  output(): string;
}

export interface ObjectStoreOptions {
  /** Listen address; 127.0.0.1 unless a namespaced host must reach it. */
  address?: string;
  /** 0 (default) takes a free port, chosen by the server itself so there is no race. */
  port?: number;
  bucket?: string;
}

/** Starts s3rver keeping its objects under `directory` and creates the bucket. */
export async function startObjectStore(directory: string, options: ObjectStoreOptions = {}): Promise<ObjectStore> {
  const { address = "127.0.0.1", port = 0, bucket = "sheaf" } = options;
  mkdirSync(directory, { recursive: true });
  // s3rver enciphers ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only has in its
  // legacy provider: without it a truncated listing (pagination) answers 500.
  const child = spawn(process.execPath, ["--openssl-legacy-provider", RUNNER, address, String(port), directory], {
    stdio: ["pipe", "pipe", "pipe"], // the runner exits when its stdin closes: when the test process dies
  });
  let log = "";
  child.stderr!.on("data", (d) => (log = (log + d).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const bound = await Promise.race([
    once(createInterface({ input: child.stdout! }), "line").then(([line]) => JSON.parse(line as string) as { port: number }),
    exited.then(() => undefined),
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 15_000).unref()),
  ]);
  if (!bound) {
    child.kill("SIGKILL");
    throw new Error(`s3rver did not start on ${address}: ${log}`);
  }

  const endpoint = `http://${address}:${bound.port}`;
  const env = {
    AWS_ACCESS_KEY_ID: "S3RVER", // s3rver's only account
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL_S3: endpoint,
    // The SDK's default flexible checksums send a streamed body aws-chunked with a trailing
    // checksum, which s3rver stores verbatim (chunk headers in the object): checksum only where S3
    // requires one (DeleteObjects). Both are the SDK's standard settings, not engine code.
    AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED",
    AWS_RESPONSE_CHECKSUM_VALIDATION: "WHEN_REQUIRED",
    // The SDK warns once per process on Node 20 that releases after January 2027 need Node 22:
    // noise in every CLI output a test reads.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
  const clients: S3Client[] = [];
  const client = (): S3Client => {
    const c = new S3Client({
      endpoint,
      region: env.AWS_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    clients.push(c);
    return c;
  };
  const end = async (child: ChildProcess, signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };

  const store: ObjectStore = {
    endpoint,
    bucket,
    env,
    client,
    kill: () => end(child, "SIGKILL"),
    stop: async () => {
      for (const c of clients.splice(0)) c.destroy();
      await end(child, "SIGTERM");
    },
    output: () => log,
  };
  // Creating the bucket is also the first signed request: the store is up and takes our credentials.
  // A store restarted on the same directory (a fault test) has it already.
  await client().send(new CreateBucketCommand({ Bucket: bucket })).catch(async (err: unknown) => {
    if ((err as Error).name === "BucketAlreadyExists") return;
    await store.stop();
    throw err;
  });
  return store;
}

/** A store and a cluster whose coordinator and workers (2 threads) use it, for a test file; and `sheaf` run with the store's env. */
export function storeCluster(s: Scratch): {
  cluster: Cluster;
  store(): ObjectStore;
  start(): Promise<void>;
  stop(): Promise<void>;
  sheaf(args: string[]): { status: number | null; stdout: string; stderr: string };
} {
  const cluster = new Cluster(s.path("cluster-wd"));
  let store: ObjectStore | undefined;
  return {
    cluster,
    store: () => store!,
    async start() {
      store = await startObjectStore(s.path("s3"));
      await cluster.startRedis();
      await cluster.coordinator([], false, store.env);
      await cluster.worker(2, [], store.env);
    },
    async stop() {
      await cluster.stop();
      await store?.stop();
      cluster.assertNoLeaks();
      s.cleanup();
    },
    sheaf(args) {
      const r = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, encoding: "utf8", timeout: 120_000, env: { ...process.env, ...store!.env, FORCE_COLOR: "0" } });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
  };
}

/** An output in the store as an independent reader gets it: its `_SUCCESS` manifest's job, and the parts it lists, in its order. */
export async function readOutput(store: ObjectStore, prefix: string): Promise<{ job: string; names: string[]; parts: Buffer[] }> {
  const get = async (key: string) => {
    const r = await store.client().send(new GetObjectCommand({ Bucket: store.bucket, Key: key }));
    return Buffer.from(await r.Body!.transformToByteArray());
  };
  const manifest = JSON.parse((await get(`${prefix}_SUCCESS`)).toString("utf8")) as { job: string; parts: { name: string }[] };
  const names = manifest.parts.map((p) => p.name);
  return { job: manifest.job, names, parts: await Promise.all(names.map((n) => get(prefix + n))) };
}
