/**
 * The object store's operations, through @aws-sdk/client-s3. Credentials, region and endpoint come
 * from the SDK's standard chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_REGION, profiles);
 * an endpoint in AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (MinIO, R2, a test server) is addressed
 * path-style, as those servers expect. One client per process, made on first use: a job that reads
 * no object never loads the SDK.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { SheafError } from "../errors.js";
import { objectUrl, parseObjectUrl } from "./location.js";

export interface ObjectInfo {
  /** s3://bucket/key */
  path: string;
  size: number;
  /** The ETag: what a fingerprint compares, where a file has its mtime. */
  etag: string;
  /** When it was last written (ms since the epoch), where the store says. */
  modified?: number;
}

type Sdk = typeof import("@aws-sdk/client-s3");
let sdk: Promise<{ s3: Sdk; client: S3Client }> | undefined;

function connect(): Promise<{ s3: Sdk; client: S3Client }> {
  sdk ??= import("@aws-sdk/client-s3").then((s3) => {
    const endpoint = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || undefined;
    const region = process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || (endpoint ? "us-east-1" : undefined);
    return { s3, client: new s3.S3Client({ ...(endpoint ? { endpoint, forcePathStyle: true } : {}), ...(region ? { region } : {}) }) };
  });
  return sdk;
}

/** An SDK failure as a SheafError naming the object and the operation. */
function storeError(what: string, url: string, err: unknown): SheafError {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const code = e.name === "NoSuchKey" || e.name === "NotFound" || status === 404 ? "MISSING_INPUT" : status === 403 ? "STORE_DENIED" : "STORE_ERROR";
  return new SheafError(code, `${what} ${url}: ${e.name && e.name !== "Error" ? `${e.name}: ` : ""}${e.message ?? String(err)}${status ? ` (HTTP ${status})` : ""}`, code === "STORE_ERROR", { cause: err });
}

/** Every object under `url` taken as a key prefix, in key order. */
export async function listObjects(url: string): Promise<ObjectInfo[]> {
  const { bucket, key } = parseObjectUrl(url);
  const { s3, client } = await connect();
  const out: ObjectInfo[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await client.send(new s3.ListObjectsV2Command({ Bucket: bucket, Prefix: key, ContinuationToken: token }));
      for (const o of page.Contents ?? []) out.push({ path: objectUrl(bucket, o.Key!), size: o.Size ?? 0, etag: o.ETag ?? "", modified: o.LastModified?.getTime() });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } catch (err) {
    throw storeError("cannot list", url, err);
  }
  return out;
}

/** The object's size and ETag, or undefined when there is none. */
export async function headObject(url: string): Promise<ObjectInfo | undefined> {
  const { bucket, key } = parseObjectUrl(url);
  const { s3, client } = await connect();
  try {
    const h = await client.send(new s3.HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { path: url, size: h.ContentLength ?? 0, etag: h.ETag ?? "" };
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
    throw storeError("cannot read", url, err);
  }
}

/** Bytes [start, end) of the object, streamed; past its end, nothing. */
export async function readRange(url: string, start: number, end: number): Promise<Readable | undefined> {
  if (end <= start) return undefined;
  const { bucket, key } = parseObjectUrl(url);
  const { s3, client } = await connect();
  try {
    const r = await client.send(new s3.GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}` }));
    return r.Body as Readable;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 416) return undefined; // past the end
    throw storeError("cannot read", url, err);
  }
}

/** Parts of a multipart upload: S3's minimum is 5 MiB; one part is held in memory at a time. */
const PART_BYTES = 8 << 20;

/** Uploads a local file as the object `url`: one PUT when small, else a multipart upload, one part in memory at a time. */
export async function uploadFile(localPath: string, url: string): Promise<void> {
  const { bucket, key } = parseObjectUrl(url);
  const { s3, client } = await connect();
  const size = (await stat(localPath)).size;
  try {
    if (size <= PART_BYTES) {
      const body = await readAll(createReadStream(localPath));
      await client.send(new s3.PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length }));
      return;
    }
    const { UploadId } = await client.send(new s3.CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const parts: { ETag: string; PartNumber: number }[] = [];
    for (let at = 0, n = 1; at < size; at += PART_BYTES, n++) {
      const body = await readAll(createReadStream(localPath, { start: at, end: Math.min(size, at + PART_BYTES) - 1 }));
      const r = await client.send(new s3.UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: n, Body: body, ContentLength: body.length }));
      parts.push({ ETag: r.ETag!, PartNumber: n });
    }
    // An upload left incomplete (this process killed) is invisible; a bucket's lifecycle rule aborts it.
    await client.send(new s3.CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
  } catch (err) {
    throw storeError("cannot write", url, err);
  }
}

export async function putObject(url: string, body: string | Buffer): Promise<void> {
  const { bucket, key } = parseObjectUrl(url);
  const { s3, client } = await connect();
  try {
    await client.send(new s3.PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  } catch (err) {
    throw storeError("cannot write", url, err);
  }
}

/** Bytes [start, end) of the object, in memory (a footer, a record batch, a header's first line); past its end, fewer. */
export async function readBytes(url: string, start: number, end: number): Promise<Buffer> {
  const body = await readRange(url, start, end);
  return body ? readAll(body) : Buffer.alloc(0);
}

/** A small object's whole body (an artifact, a list of map outputs), in one GET; undefined when there is none. */
export async function getObject(url: string): Promise<Buffer | undefined> {
  const { bucket, key } = parseObjectUrl(url);
  const { s3, client } = await connect();
  try {
    const r = await client.send(new s3.GetObjectCommand({ Bucket: bucket, Key: key }));
    return await readAll(r.Body as Readable);
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
    throw storeError("cannot read", url, err);
  }
}

/** A small object's whole body as text (a manifest, a lock); undefined when there is none. */
export const getObjectText = async (url: string): Promise<string | undefined> => (await getObject(url))?.toString("utf8");

/** A server-side copy (objects up to 5 GiB, S3's limit for one CopyObject). */
export async function copyObject(from: string, to: string): Promise<void> {
  const src = parseObjectUrl(from);
  const dst = parseObjectUrl(to);
  const { s3, client } = await connect();
  try {
    await client.send(new s3.CopyObjectCommand({ Bucket: dst.bucket, Key: dst.key, CopySource: `${src.bucket}/${src.key.split("/").map(encodeURIComponent).join("/")}` }));
  } catch (err) {
    throw storeError(`cannot copy to ${to} from`, from, err);
  }
}

/** Deletes the objects (absent ones are no error), a thousand per request. */
export async function deleteObjects(urls: readonly string[]): Promise<void> {
  const { s3, client } = await connect();
  const byBucket = new Map<string, string[]>();
  for (const u of urls) {
    const { bucket, key } = parseObjectUrl(u);
    byBucket.set(bucket, [...(byBucket.get(bucket) ?? []), key]);
  }
  for (const [bucket, keys] of byBucket) {
    for (let i = 0; i < keys.length; i += 1000) {
      let failed: string | undefined;
      try {
        const r = await client.send(new s3.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }));
        failed = r.Errors?.length ? r.Errors.map((e) => `${e.Key}: ${e.Code} ${e.Message}`).join("; ") : undefined;
      } catch (err) {
        throw storeError("cannot delete objects in", objectUrl(bucket, ""), err);
      }
      if (failed) throw new SheafError("STORE_ERROR", `cannot delete objects in ${objectUrl(bucket, "")}: ${failed}`, true);
    }
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
