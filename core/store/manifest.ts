/**
 * The manifest of an output in an object store: its `_SUCCESS`, written last by the job commit
 * (core/store/object-output.ts), listing the parts that make the output. Readers Sheaf controls take
 * those parts and nothing else under the prefix.
 */
import type * as v from "valibot";
import { ifValid } from "../security/messages.js";
import { lazily } from "../security/valibot.js";
import { getObjectText } from "./s3.js";

const manifestSchema = lazily((v) =>
  v.object({
    sheaf: v.literal(1),
    /** The job that wrote it. */
    job: v.string(),
    /** Its parts' names under the prefix, in partition order. */
    parts: v.array(v.object({ name: v.string(), bytes: v.number(), records: v.number() })),
    /** A pipeline stage's fingerprint: a rerun with the same one skips the stage. */
    fingerprint: v.optional(v.string()),
  }),
);
export type Manifest = v.InferOutput<ReturnType<typeof manifestSchema>>;

/** The prefix as a folder: `s3://b/out` and `s3://b/out/` name the same output. */
export const folderOf = (url: string): string => (url.endsWith("/") ? url : `${url}/`);
/** Where attempts stage their parts and the writer lock lies, under the output prefix. */
export const temporaryOf = (url: string): string => `${folderOf(url)}_temporary/`;

/** The output's manifest, if it holds one Sheaf wrote. */
export async function readManifest(url: string): Promise<Manifest | undefined> {
  const text = await getObjectText(`${folderOf(url)}_SUCCESS`);
  try {
    return text ? ifValid(manifestSchema(), JSON.parse(text)) : undefined;
  } catch {
    return undefined;
  }
}
