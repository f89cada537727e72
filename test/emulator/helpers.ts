/** Shared helpers for the emulator tests: everything goes over real HTTP on 127.0.0.1. */
import { type Emulator, type EmulatorOptions, startEmulator } from "../../src/emulator/index.js";

export async function start(options: EmulatorOptions = {}): Promise<Emulator> {
  return startEmulator({ host: "127.0.0.1", port: 0, ...options });
}

export const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

export const FORM = { "content-type": "application/x-www-form-urlencoded" };
export const JSON_CT = { "content-type": "application/json" };

export async function postForm(url: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(url, { method: "POST", headers: { ...FORM, ...headers }, body: new URLSearchParams(params) });
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, { method: "POST", headers: { ...JSON_CT, ...headers }, body: JSON.stringify(body) });
}

export async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

export function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = token.split(".");
  return {
    header: JSON.parse(Buffer.from(h!, "base64url").toString("utf8")),
    payload: JSON.parse(Buffer.from(p!, "base64url").toString("utf8")),
  };
}

/** Set-Cookie values of a response as name → value. */
export function setCookies(res: Response): Map<string, string> {
  const m = new Map<string, string>();
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(";");
    const i = pair!.indexOf("=");
    m.set(pair!.slice(0, i).trim(), pair!.slice(i + 1).trim());
  }
  return m;
}

/** Hidden field value from our HTML forms. */
export function hidden(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!m) throw new Error(`no hidden ${name} in page`);
  return m[1]!;
}
