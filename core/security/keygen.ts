/** `sheaf keys <folder>`: a cluster's two Ed25519 key pairs, and which machine gets which file. */
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SheafError } from "../errors.js";
import { KEY_ROLES } from "./signing.js";

/** Writes `<role>.key` (0600) and `<role>.pub` for each role; refuses to replace a key already there. */
export function generateKeys(folder: string): string[] {
  const files = KEY_ROLES.flatMap((r) => [join(folder, `${r}.key`), join(folder, `${r}.pub`)]);
  const there = files.filter((f) => existsSync(f));
  if (there.length) throw new SheafError("KEYS_EXIST", `${there.join(", ")} already exist: remove them first to make new keys (every machine then needs the new files)`);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  for (const role of KEY_ROLES) {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    writeFileSync(join(folder, `${role}.key`), privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
    writeFileSync(join(folder, `${role}.pub`), publicKey.export({ type: "spki", format: "pem" }), { mode: 0o644, flag: "wx" });
  }
  return files;
}

export const KEYS_GUIDE = `Give each machine a folder with only its files, and point SHEAF_KEYS at it:
  submitters (submit, schedule):  submit.key
  coordinators:                   coordinator.key  submit.pub
  workers:                        coordinator.pub
Private keys (.key) must stay mode 0600.`;
