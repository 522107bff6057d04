/** Ed25519 signers from a SHEAF_KEYS folder: who may sign what, and what a folder refuses to be. */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateKeys } from "../../core/security/keygen.js";
import { KeySigner, SecretSigner, signerFromEnv, type Purpose } from "../../core/security/signing.js";

const dir = mkdtempSync(join(tmpdir(), "sheaf-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const all = join(dir, "all");
generateKeys(all);
function folder(name: string, ...files: string[]): string {
  const f = join(dir, name);
  mkdirSync(f, { recursive: true });
  for (const file of files) {
    copyFileSync(join(all, file), join(f, file));
    chmodSync(join(f, file), file.endsWith(".key") ? 0o600 : 0o644);
  }
  return f;
}
const submitter = new KeySigner(folder("submitter", "submit.key"));
const coordinator = new KeySigner(folder("coordinator", "coordinator.key", "submit.pub"));
const worker = new KeySigner(folder("worker", "coordinator.pub"));
const message = { id: "j-1", paths: ["/data/a"] };

describe("KeySigner", () => {
  it("a submitter signs records; the coordinator checks them; nobody else's key passes", () => {
    for (const purpose of ["job", "run", "schedule"] as Purpose[]) {
      const sig = submitter.sign(purpose, message);
      expect(coordinator.check(purpose, message, sig)).toBeUndefined();
      expect(coordinator.check(purpose, { ...message, id: "j-2" }, sig)).toBe("bad signature");
      expect(coordinator.check(purpose === "job" ? "run" : "job", message, sig)).toBe("bad signature"); // another purpose
    }
    expect(() => submitter.sign("task", message)).toThrow(/holds no coordinator\.key/);
  });

  it("the coordinator signs tasks, plans, stage jobs and runs; a worker checks tasks and signs nothing", () => {
    for (const purpose of ["task", "plan"] as Purpose[]) {
      const sig = coordinator.sign(purpose, message, Date.now() + 60_000);
      expect(worker.check(purpose, message, sig)).toBeUndefined();
    }
    expect(coordinator.check("job", message, coordinator.sign("job", message))).toBeUndefined();
    expect(() => coordinator.sign("schedule", message)).toThrow(/holds no submit\.key/);
    expect(worker.check("task", message, coordinator.sign("task", message, Date.now() - 1))).toMatch(/expired/);
    for (const purpose of ["job", "run", "schedule", "task", "plan"] as Purpose[]) expect(() => worker.sign(purpose, message)).toThrow(/holds no/);
    // A submitter's signature is no coordinator's, and an HMAC signature is no Ed25519 one.
    const forged = { expires: 0, ed25519: submitter.sign("job", message).ed25519 };
    expect(worker.check("task", message, forged)).toBe("bad signature");
    expect(worker.check("task", message, new SecretSigner("some-shared-secret-123").sign("task", message))).toBe("unsigned");
  });

  it("refuses a private key others can read, a folder without keys, a key that is not Ed25519, and both settings at once", () => {
    const open = folder("open", "submit.key");
    chmodSync(join(open, "submit.key"), 0o644);
    expect(() => new KeySigner(open)).toThrow(/readable by others.*chmod 600/);
    expect(() => new KeySigner(folder("empty"))).toThrow(/holds no key/);
    const bad = folder("bad");
    writeFileSync(join(bad, "coordinator.pub"), "not a key");
    expect(() => new KeySigner(bad)).toThrow(/coordinator\.pub is not an Ed25519 public key/);
    expect(() => signerFromEnv({ SHEAF_KEYS: all, SHEAF_SECRET: "x".repeat(20) })).toThrow(/not both/);
    expect(() => generateKeys(all)).toThrow(/already exist/);
  });
});
