/**
 * Locations in an S3-compatible object store: `s3://bucket/key`. Everything else Sheaf is given is
 * a path in the filesystem (core/storage.ts refuses any other scheme).
 */
import { SheafError } from "../errors.js";

export interface ObjectLocation {
  bucket: string;
  /** The key, or the key prefix of a folder ("" for the whole bucket). */
  key: string;
}

export const isObjectUrl = (location: string): boolean => /^s3:\/\//i.test(location);

export function parseObjectUrl(url: string): ObjectLocation {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/i.exec(url);
  // Bucket names as S3 allows them (3-63 of a-z, 0-9, '.', '-'); a key is any string.
  if (!m || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m[1]!)) throw new SheafError("BAD_ARGUMENT", `${url}: not an object location: expected s3://bucket/key`);
  return { bucket: m[1]!, key: m[2]! };
}

export const objectUrl = (bucket: string, key: string): string => `s3://${bucket}/${key}`;

/**
 * The key segments of `url` below the prefix `base` (an s3:// URL), or undefined when it is not
 * below it or is not a plain key there (an empty, `.` or `..` segment): the same key may not be
 * spelt two ways, nor climb out of the prefix once it is a local path.
 */
export function keyBelow(base: string, url: string): string[] | undefined {
  const prefix = `${base.replace(/\/+$/, "")}/`;
  if (!url.startsWith(prefix)) return undefined;
  const rest = url.slice(prefix.length).split("/");
  return rest.some((s) => s === "" || s === "." || s === "..") ? undefined : rest;
}
