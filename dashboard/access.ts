/**
 * Who may use the dashboard (design §6): it binds to loopback by default; bound elsewhere it needs
 * SHEAF_UI_TOKEN, which every request not from loopback must then carry, as `Authorization: Bearer
 * <token>` or the cookie that `?token=<token>` sets once. Actions (cancel, pause, resume, backfill)
 * need the token from anyone, loopback included, and a header a cross-site form cannot send, so a
 * page elsewhere cannot make a logged-in browser act. Requests to a loopback-bound server must name
 * a loopback host (a DNS-rebinding page cannot reach it under its own name).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import { SheafError } from "../core/errors.js";

export const TOKEN_COOKIE = "sheaf_ui_token";
/** Sent by the pages with every action; a plain HTML form cannot set it. */
export const ACTION_HEADER = "x-sheaf-action";

/** Whether `host` (an address or name the server binds to) is loopback only. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h) || h === "::ffff:127.0.0.1";
}

/** `HOST:PORT`, `:PORT` or `PORT` (host 127.0.0.1), `[::1]:PORT`. */
export function parseListen(text: string): { host: string; port: number } {
  const bad = () => new SheafError("BAD_OPTION", `--http: expected HOST:PORT (e.g. 127.0.0.1:8080), got ${JSON.stringify(text)}`);
  const t = text.trim();
  const colon = t.lastIndexOf(":");
  let host = colon < 0 ? "" : t.slice(0, colon);
  const portText = colon < 0 ? t : t.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw bad();
  if (host.startsWith("[")) {
    if (!host.endsWith("]") || isIP(host.slice(1, -1)) !== 6) throw bad();
    host = host.slice(1, -1);
  } else if (host.includes(":") || /\s/.test(host)) throw bad();
  return { host: host || "127.0.0.1", port: Number(portText) };
}

export class Access {
  private readonly digest: Buffer | undefined;

  constructor(readonly bindHost: string, token: string | undefined) {
    this.digest = token ? sha(token) : undefined;
    if (!isLoopbackHost(bindHost) && !this.digest) {
      throw new SheafError("UI_TOKEN_REQUIRED", `the dashboard binds to ${bindHost}, beyond loopback: set SHEAF_UI_TOKEN (a long random secret), which every request from elsewhere must then carry`);
    }
    if (token !== undefined && token.length < 16) throw new SheafError("UI_TOKEN_REQUIRED", "SHEAF_UI_TOKEN must be at least 16 characters");
  }

  get hasToken(): boolean {
    return this.digest !== undefined;
  }

  /** Whether `given` is the token (compared in constant time). */
  matches(given: string | undefined): boolean {
    if (!this.digest || !given) return false;
    return timingSafeEqual(sha(given), this.digest);
  }

  /** The token a request carries: its bearer header, else its cookie. */
  tokenOf(req: IncomingMessage): string | undefined {
    const auth = req.headers.authorization;
    if (auth?.startsWith("Bearer ")) return auth.slice(7).trim();
    return cookie(req.headers.cookie, TOKEN_COOKIE);
  }

  /** Why a request may not read, or undefined when it may. */
  readRefusal(req: IncomingMessage): string | undefined {
    if (isLoopbackHost(this.bindHost)) {
      const host = hostOf(req.headers.host);
      if (host === undefined || !isLoopbackHost(host)) return "this dashboard answers only to a loopback host name";
    }
    if (fromLoopback(req)) return undefined;
    return this.matches(this.tokenOf(req)) ? undefined : "a token is required from beyond loopback (Authorization: Bearer, or open the page once with ?token=)";
  }

  /** Why a request may not act, or undefined when it may. */
  actionRefusal(req: IncomingMessage): string | undefined {
    const read = this.readRefusal(req);
    if (read) return read;
    if (!this.digest) return "actions need SHEAF_UI_TOKEN set on the coordinator, and the token";
    if (!this.matches(this.tokenOf(req))) return "actions need the token (Authorization: Bearer, or open the page once with ?token=)";
    if (req.headers[ACTION_HEADER] !== "1") return `actions need the ${ACTION_HEADER} header`;
    return undefined;
  }
}

function sha(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

function fromLoopback(req: IncomingMessage): boolean {
  return isLoopbackHost(req.socket.remoteAddress ?? "");
}

/** The host name of a Host header, without its port. */
function hostOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(header);
  return m?.[1];
}

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}
