/**
 * HMAC-SHA256 signatures for what travels through Redis: job, run and schedule records (signed by
 * whoever submits them) and task messages (signed by the coordinator). Anyone who can write to Redis
 * but does not hold `SHEAF_SECRET` cannot make a worker read a file or load code, nor a coordinator
 * plan a job.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { SheafError } from "../errors.js";

/** How long a task message stays valid: a queued task may wait behind a long job, and retries reuse it. */
export const TASK_SIGNATURE_TTL_MS = 7 * 24 * 3600_000;

export interface Signature {
  /** Epoch ms past which the message is refused (0: never, for records that are planned once). */
  expires: number;
  /** Hex HMAC-SHA256 over the purpose, the expiry and the canonical JSON of the message. */
  mac: string;
}

/** What a record or message claims to be: a signature made for one purpose never verifies for another. */
export type Purpose = "job" | "run" | "schedule" | "task" | "plan";

export class Signer {
  private readonly key: Buffer;

  constructor(secret: string) {
    if (secret.length < 16) throw new SheafError("WEAK_SECRET", "SHEAF_SECRET must be at least 16 characters");
    this.key = Buffer.from(secret, "utf8");
  }

  sign(purpose: Purpose, message: unknown, expires = 0): Signature {
    return { expires, mac: this.mac(purpose, message, expires).toString("hex") };
  }

  /** Why the signature does not hold, or undefined when it does. */
  check(purpose: Purpose, message: unknown, sig: unknown, now = Date.now()): string | undefined {
    if (!isSignature(sig)) return "unsigned";
    if (sig.expires !== 0 && sig.expires < now) return `signature expired at ${new Date(sig.expires).toISOString()}`;
    const given = Buffer.from(sig.mac, "hex");
    const expected = this.mac(purpose, message, sig.expires);
    return given.length === expected.length && timingSafeEqual(given, expected) ? undefined : "bad signature";
  }

  private mac(purpose: Purpose, message: unknown, expires: number): Buffer {
    return createHmac("sha256", this.key).update(`sheaf/${purpose}/${expires}\n`).update(canonicalJson(message)).digest();
  }
}

function isSignature(s: unknown): s is Signature {
  const o = s as Signature | null;
  return typeof o === "object" && o !== null && Number.isSafeInteger(o.expires) && typeof o.mac === "string" && /^[0-9a-f]{64}$/.test(o.mac);
}

/** The cluster's signer, from `SHEAF_SECRET`; undefined when the cluster is open. */
export function signerFromEnv(env: NodeJS.ProcessEnv = process.env): Signer | undefined {
  const secret = env.SHEAF_SECRET;
  return secret ? new Signer(secret) : undefined;
}

/** Printed once at start by a coordinator or worker that has no secret. */
export const OPEN_CLUSTER_WARNING =
  "warning: SHEAF_SECRET is not set: task messages and job records are not signed, so anyone who can write to this Redis can run code on the workers";

/**
 * JSON with object keys sorted at every level, so a message signed before it went through Redis
 * verifies after, whatever order a serializer keeps. `undefined` fields are left out, as JSON does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const entries = Object.keys(value)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(",")}}`;
}

/** A job, run or schedule record as stored: its fields and, on a cluster with a secret, its signature. */
export type Signed<T> = T & { sig?: Signature };

/** The record with its signature added, when there is a signer. */
export function signRecord<T extends object>(signer: Signer | undefined, purpose: Purpose, record: T): Signed<T> {
  if (!signer) return record;
  const { sig: _old, ...fields } = record as Signed<T>;
  return { ...fields, sig: signer.sign(purpose, fields) } as Signed<T>;
}

/** Why a stored record's signature does not hold (undefined when it does, or when there is no signer). */
export function recordProblem(signer: Signer | undefined, purpose: Purpose, record: object): string | undefined {
  if (!signer) return undefined;
  const { sig, ...fields } = record as Signed<object>;
  return signer.check(purpose, fields, sig);
}
