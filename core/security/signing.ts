/**
 * Signatures for what travels through Redis: job, run and schedule records (signed by whoever
 * submits them), and task messages, stored plans, stage jobs and scheduled runs (signed by the
 * coordinator). Anyone who can write to Redis but holds no signing key cannot make a worker read a
 * file or load code, nor a coordinator plan a job.
 *
 * Two kinds of signer, one interface:
 * - keys (`SHEAF_KEYS`, a folder, see `sheaf keys`): Ed25519. Submitters hold `submit.key`, the
 *   coordinators `coordinator.key` and `submit.pub`, the workers only `coordinator.pub`: a worker's
 *   machine, or job code reading what a worker can read, holds nothing that signs a job or a task;
 * - a shared secret (`SHEAF_SECRET`): HMAC-SHA256, the same key everywhere, so whoever holds it on any
 *   machine (job code on a worker included) can sign anything. Simpler; for clusters whose every
 *   machine and job author is trusted alike.
 */
import { createHmac, createPrivateKey, createPublicKey, sign as edSign, timingSafeEqual, verify as edVerify, type KeyObject } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { SheafError } from "../errors.js";

/** How long a task message stays valid: a queued task may wait behind a long job, and retries reuse it. */
export const TASK_SIGNATURE_TTL_MS = 7 * 24 * 3600_000;

export interface Signature {
  /** Epoch ms past which the message is refused (0: never, for records that are planned once). */
  expires: number;
  /** Hex HMAC-SHA256 over the purpose, the expiry and the canonical JSON of the message (a shared secret). */
  mac?: string;
  /** Base64 Ed25519 signature over the same bytes (keys). */
  ed25519?: string;
}

/** What a record or message claims to be: a signature made for one purpose never verifies for another. */
export type Purpose = "job" | "run" | "schedule" | "task" | "batch" | "plan" | "due";

export interface Signer {
  sign(purpose: Purpose, message: unknown, expires?: number): Signature;
  /** Why the signature does not hold, or undefined when it does. */
  check(purpose: Purpose, message: unknown, sig: unknown, now?: number): string | undefined;
}

/** The bytes a signature covers. */
function signedBytes(purpose: Purpose, message: unknown, expires: number): Buffer {
  return Buffer.from(`sheaf/${purpose}/${expires}\n${canonicalJson(message)}`, "utf8");
}

function expiry(sig: { expires: number }, now: number): string | undefined {
  return sig.expires !== 0 && sig.expires < now ? `signature expired at ${new Date(sig.expires).toISOString()}` : undefined;
}

/** HMAC-SHA256 with `SHEAF_SECRET`: every holder can sign every purpose. */
export class SecretSigner implements Signer {
  private readonly key: Buffer;

  constructor(secret: string) {
    if (secret.length < 16) throw new SheafError("WEAK_SECRET", "SHEAF_SECRET must be at least 16 characters");
    this.key = Buffer.from(secret, "utf8");
  }

  sign(purpose: Purpose, message: unknown, expires = 0): Signature {
    return { expires, mac: this.mac(purpose, message, expires).toString("hex") };
  }

  check(purpose: Purpose, message: unknown, sig: unknown, now = Date.now()): string | undefined {
    const o = sig as Signature | null;
    if (typeof o !== "object" || o === null || !Number.isSafeInteger(o.expires) || typeof o.mac !== "string" || !/^[0-9a-f]{64}$/.test(o.mac)) return "unsigned";
    const expired = expiry(o, now);
    if (expired) return expired;
    const given = Buffer.from(o.mac, "hex");
    const expected = this.mac(purpose, message, o.expires);
    return given.length === expected.length && timingSafeEqual(given, expected) ? undefined : "bad signature";
  }

  private mac(purpose: Purpose, message: unknown, expires: number): Buffer {
    return createHmac("sha256", this.key).update(signedBytes(purpose, message, expires)).digest();
  }
}

export type KeyRole = "submit" | "coordinator";
export const KEY_ROLES: readonly KeyRole[] = ["submit", "coordinator"];

/**
 * Whose signature each purpose takes. A stage's job and a scheduled run are made by the coordinator;
 * a task and a plan only ever by it; a schedule only by a submitter.
 */
const SIGNED_BY: Record<Purpose, readonly KeyRole[]> = {
  job: ["submit", "coordinator"],
  run: ["submit", "coordinator"],
  schedule: ["submit"],
  task: ["coordinator"],
  batch: ["coordinator"],
  plan: ["coordinator"],
  /** A due time queued to fire (a backfill's, or one that came while a run was going). */
  due: ["submit", "coordinator"],
};

/** Ed25519 keys from a folder: `<role>.key` (private, PKCS#8 PEM, mode 0600) and `<role>.pub` (SPKI PEM). */
export class KeySigner implements Signer {
  private readonly privateKeys = new Map<KeyRole, KeyObject>();
  private readonly publicKeys = new Map<KeyRole, KeyObject>();

  constructor(readonly folder: string) {
    for (const role of KEY_ROLES) {
      const priv = join(folder, `${role}.key`);
      const pub = join(folder, `${role}.pub`);
      if (existsSync(priv)) {
        const mode = statSync(priv).mode;
        if (mode & 0o077) throw new SheafError("KEY_EXPOSED", `${priv} is readable by others (mode ${(mode & 0o777).toString(8)}): chmod 600 it`);
        const key = loadKey(priv, "private");
        this.privateKeys.set(role, key);
        this.publicKeys.set(role, createPublicKey(key));
      } else if (existsSync(pub)) {
        this.publicKeys.set(role, loadKey(pub, "public"));
      }
    }
    if (this.publicKeys.size === 0) throw new SheafError("NO_KEYS", `SHEAF_KEYS folder ${folder} holds no key (submit.key, submit.pub, coordinator.key or coordinator.pub; see sheaf keys)`);
  }

  /** Whether this holder can sign `purpose` (a worker, holding public keys only, signs nothing). */
  canSign(purpose: Purpose): boolean {
    return SIGNED_BY[purpose].some((r) => this.privateKeys.has(r));
  }

  sign(purpose: Purpose, message: unknown, expires = 0): Signature {
    // The coordinator's own key first: a coordinator that also holds submit.key signs what it makes as itself.
    const role = [...SIGNED_BY[purpose]].reverse().find((r) => this.privateKeys.has(r));
    if (!role) {
      const need = SIGNED_BY[purpose].map((r) => `${r}.key`).join(" or ");
      throw new SheafError("NO_SIGNING_KEY", `cannot sign a ${purpose}: the SHEAF_KEYS folder ${this.folder} holds no ${need}`);
    }
    return { expires, ed25519: edSign(null, signedBytes(purpose, message, expires), this.privateKeys.get(role)!).toString("base64") };
  }

  check(purpose: Purpose, message: unknown, sig: unknown, now = Date.now()): string | undefined {
    const o = sig as Signature | null;
    if (typeof o !== "object" || o === null || !Number.isSafeInteger(o.expires) || typeof o.ed25519 !== "string") return "unsigned";
    const bytes = Buffer.from(o.ed25519, "base64");
    if (bytes.length !== 64) return "unsigned";
    const expired = expiry(o, now);
    if (expired) return expired;
    const data = signedBytes(purpose, message, o.expires);
    const keys = SIGNED_BY[purpose].map((r) => this.publicKeys.get(r)).filter((k): k is KeyObject => k !== undefined);
    if (keys.length === 0) return `no ${SIGNED_BY[purpose].map((r) => `${r}.pub`).join(" or ")} in ${this.folder} to check it with`;
    return keys.some((k) => edVerify(null, data, k, bytes)) ? undefined : "bad signature";
  }
}

function loadKey(path: string, kind: "private" | "public"): KeyObject {
  try {
    const pem = readFileSync(path);
    const key = kind === "private" ? createPrivateKey(pem) : createPublicKey(pem);
    if (key.asymmetricKeyType !== "ed25519") throw new SheafError("BAD_KEY", `an ${key.asymmetricKeyType} key, not ed25519`);
    return key;
  } catch (err) {
    throw new SheafError("BAD_KEY", `${path} is not an Ed25519 ${kind} key: ${(err as Error).message}`);
  }
}

/**
 * The cluster's signer: keys from the `SHEAF_KEYS` folder, or the shared `SHEAF_SECRET`; undefined
 * when the cluster is open. Both at once is refused (which one would a reader trust?).
 */
export function signerFromEnv(env: NodeJS.ProcessEnv = process.env): Signer | undefined {
  const { SHEAF_KEYS: folder, SHEAF_SECRET: secret } = env;
  if (folder && secret) throw new SheafError("BAD_KEYS", "set SHEAF_KEYS or SHEAF_SECRET, not both");
  if (folder) return new KeySigner(folder);
  return secret ? new SecretSigner(secret) : undefined;
}

/** Printed once at start by a coordinator or worker that has no secret. */
export const OPEN_CLUSTER_WARNING =
  "warning: neither SHEAF_KEYS nor SHEAF_SECRET is set: task messages and job records are not signed, so anyone who can write to this Redis can run code on the workers";

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
