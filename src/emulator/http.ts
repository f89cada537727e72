/** Small HTTP helpers for the emulator: bounded body reading, the body encodings the services take, answers. */
import type { IncomingMessage, ServerResponse } from "node:http";

export class BodyTooLarge extends Error {}

/** Past this much, a refused body is no longer drained for the sake of a readable 413: the socket is cut. */
const DRAIN_LIMIT = 16 * 1024 * 1024;

/**
 * Reads the whole body, refusing more than `limit` bytes (declared or streamed) without buffering the excess. A
 * refused body is still drained (up to DRAIN_LIMIT) so that the client, still sending, gets to read the 413.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    let tooLarge = Number.isFinite(declared) && declared > limit;
    if (tooLarge) reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > DRAIN_LIMIT) {
        req.socket.destroy();
        return;
      }
      if (size > limit && !tooLarge) {
        tooLarge = true;
        chunks.length = 0;
        reject(new BodyTooLarge());
      }
      if (!tooLarge) chunks.push(chunk);
    });
    req.on("end", () => {
      if (!tooLarge) resolve(Buffer.concat(chunks));
    });
    req.on("error", (e) => reject(e));
    req.on("close", () => {
      if (!req.complete && !tooLarge) reject(new Error("request aborted"));
    });
  });
}

/** The media type of a request, lower-cased, without parameters ("" when absent). */
export function mediaType(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
}

export type Params = Map<string, string>;

function fromSearch(s: URLSearchParams): Params {
  const m: Params = new Map();
  // First value wins; duplicates are judged by the caller where a service refuses them.
  for (const [k, v] of s) if (!m.has(k)) m.set(k, v);
  return m;
}

export function parseForm(body: Buffer): Params {
  return fromSearch(new URLSearchParams(body.toString("utf8")));
}

export function parseQuery(url: URL): Params {
  return fromSearch(url.searchParams);
}

/** JSON object body, or undefined when the body is not a JSON object. */
export function parseJsonObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(body.toString("utf8"));
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** String-valued fields of a JSON object as Params (non-strings are skipped: they never match a credential). */
export function jsonParams(obj: Record<string, unknown> | undefined): Params {
  const m: Params = new Map();
  if (obj) for (const [k, v] of Object.entries(obj)) if (typeof v === "string") m.set(k, v);
  return m;
}

/** multipart/form-data through the platform's own parser (undici's), rather than a hand-rolled one. */
export async function parseMultipart(req: IncomingMessage, body: Buffer): Promise<Params | undefined> {
  try {
    const form = await new Response(body, {
      headers: { "content-type": String(req.headers["content-type"]) },
    }).formData();
    const m: Params = new Map();
    for (const [k, v] of form) if (typeof v === "string" && !m.has(k)) m.set(k, v);
    return m;
  } catch {
    return undefined;
  }
}

/** `Authorization: Basic` credentials (RFC 7617; the form-encoding of RFC 6749 §2.3.1 is undone too). */
export function basicAuth(req: IncomingMessage): { id: string; secret: string } | "malformed" | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(h);
  if (!m) return /^Basic\b/i.test(h) ? "malformed" : undefined;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const i = decoded.indexOf(":");
  if (i < 0) return "malformed";
  const dec = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, " "));
    } catch {
      return s;
    }
  };
  return { id: dec(decoded.slice(0, i)), secret: dec(decoded.slice(i + 1)) };
}

export function bearer(req: IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return m?.[1];
}

export function cookies(req: IncomingMessage): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0) m.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return m;
}

export type Headers = Record<string, string | number | string[]>;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Headers = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json;charset=UTF-8",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Token endpoint answers must not be cached (RFC 6749 §5.1). */
export const NO_STORE: Headers = { "cache-control": "no-store", pragma: "no-cache" };

export function sendHtml(res: ServerResponse, status: number, html: string, headers: Headers = {}): void {
  res.writeHead(status, {
    "content-type": "text/html;charset=UTF-8",
    "content-length": Buffer.byteLength(html),
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    ...headers,
  });
  res.end(html);
}

export function redirect(res: ServerResponse, location: string, headers: Headers = {}): void {
  res.writeHead(302, { location, "cache-control": "no-store", "content-length": 0, ...headers });
  res.end();
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
