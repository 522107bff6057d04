/**
 * Who may read and act on the dashboard (dashboard/access.ts, design §6): loopback by default; bound
 * elsewhere only with SHEAF_UI_TOKEN, which every request from elsewhere must carry; actions always
 * need the token and the action header.
 */
import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { Access, parseListen } from "../../dashboard/access.js";

const TOKEN = "a-long-enough-token-0123";

function req(remote: string, headers: Record<string, string> = {}): IncomingMessage {
  return { socket: { remoteAddress: remote }, headers: { host: "127.0.0.1:8080", ...headers } } as unknown as IncomingMessage;
}

describe("dashboard access", () => {
  it("parses --http and refuses what is not HOST:PORT", () => {
    expect(parseListen("127.0.0.1:8080")).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(parseListen("8080")).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(parseListen("[::1]:9")).toEqual({ host: "::1", port: 9 });
    expect(parseListen("0.0.0.0:0")).toEqual({ host: "0.0.0.0", port: 0 });
    expect(() => parseListen("host:port")).toThrow(/BAD_OPTION|HOST:PORT/);
    expect(() => parseListen("1.2.3.4:70000")).toThrow(/HOST:PORT/);
  });

  it("binding beyond loopback needs a token, of at least 16 characters", () => {
    expect(() => new Access("0.0.0.0", undefined)).toThrow(/SHEAF_UI_TOKEN/);
    expect(() => new Access("0.0.0.0", "short")).toThrow(/16/);
    expect(() => new Access("127.0.0.1", undefined)).not.toThrow();
    expect(new Access("0.0.0.0", TOKEN).hasToken).toBe(true);
  });

  it("bound to loopback, reads need no token but a loopback Host (no DNS rebinding); actions need the token and the header", () => {
    const a = new Access("127.0.0.1", TOKEN);
    expect(a.readRefusal(req("127.0.0.1"))).toBeUndefined();
    expect(a.readRefusal(req("127.0.0.1", { host: "evil.example:8080" }))).toMatch(/loopback host/);
    expect(a.actionRefusal(req("127.0.0.1"))).toMatch(/token/);
    expect(a.actionRefusal(req("127.0.0.1", { authorization: `Bearer ${TOKEN}` }))).toMatch(/x-sheaf-action/);
    expect(a.actionRefusal(req("127.0.0.1", { authorization: `Bearer ${TOKEN}`, "x-sheaf-action": "1" }))).toBeUndefined();
    expect(a.actionRefusal(req("127.0.0.1", { cookie: `other=1; sheaf_ui_token=${TOKEN}`, "x-sheaf-action": "1" }))).toBeUndefined();
    expect(a.actionRefusal(req("127.0.0.1", { authorization: "Bearer wrong-wrong-wrong-wrong", "x-sheaf-action": "1" }))).toMatch(/token/);
    // Without a token set, no action at all.
    expect(new Access("127.0.0.1", undefined).actionRefusal(req("127.0.0.1", { "x-sheaf-action": "1" }))).toMatch(/SHEAF_UI_TOKEN/);
  });

  it("bound elsewhere, a request from beyond loopback must carry the token, by header or cookie", () => {
    const a = new Access("0.0.0.0", TOKEN);
    const far = (h: Record<string, string> = {}) => req("10.1.2.3", { host: "sheaf.internal:8080", ...h });
    expect(a.readRefusal(far())).toMatch(/token is required/);
    expect(a.readRefusal(far({ authorization: "Bearer nope-nope-nope-nope" }))).toMatch(/token is required/);
    expect(a.readRefusal(far({ authorization: `Bearer ${TOKEN}` }))).toBeUndefined();
    expect(a.readRefusal(far({ cookie: `sheaf_ui_token=${TOKEN}` }))).toBeUndefined();
    expect(a.readRefusal(req("::ffff:127.0.0.1", { host: "sheaf.internal" }))).toBeUndefined();
  });
});
