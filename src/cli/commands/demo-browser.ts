/**
 * A scripted demo user for TechPulse's browser flow: drives the emulator's login and consent pages over plain HTTP
 * (GET the authorize URL, POST the login form, press Allow) and reads `code` and `state` from the final redirect.
 * Hand-rolled (no browser, no HTML library) because it only ever talks to our own emulator's simple forms.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { HpauthError } from "../../engine/errors.js";
import type { AuthorizationRequest, AuthorizationResult, InteractiveAuthorizer } from "../../engine/types.js";

interface Form {
  action: string;
  method: string;
  fields: [string, string][];
  buttons: [string, string][];
}

const attr = (tag: string, name: string) =>
  tag
    .match(new RegExp(`\\b${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, "i"))
    ?.slice(1)
    .find((v) => v !== undefined);

const decodeEntities = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");

export function parseForms(html: string): Form[] {
  const forms: Form[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const open = m[1] ?? "";
    const body = m[2] ?? "";
    const form: Form = {
      action: decodeEntities(attr(open, "action") ?? ""),
      method: (attr(open, "method") ?? "get").toLowerCase(),
      fields: [],
      buttons: [],
    };
    for (const t of body.matchAll(/<(input|button)\b([^>]*)>/gi)) {
      const tag = t[2] ?? "";
      const name = attr(tag, "name");
      const type = (attr(tag, "type") ?? (t[1]!.toLowerCase() === "button" ? "submit" : "text")).toLowerCase();
      if (!name) continue;
      const value = decodeEntities(attr(tag, "value") ?? "");
      if (type === "submit") form.buttons.push([name, value]);
      else form.fields.push([name, value]);
    }
    forms.push(form);
  }
  return forms;
}

export interface DemoUser {
  username: string;
  password: string;
  fetch?: typeof globalThis.fetch;
  /** What to press on the consent page (the demo allows; tests also deny). */
  decision?: "allow" | "deny";
}

export function scriptedBrowser(user: DemoUser): InteractiveAuthorizer {
  const doFetch = user.fetch ?? globalThis.fetch;
  return async (request: AuthorizationRequest): Promise<AuthorizationResult> => {
    const redirectUri = request.redirectUri ?? "http://localhost:8765/callback";
    const state = randomBytes(16).toString("base64url");
    let url = request.authorizationUrl({ redirectUri, state });
    const cookies = new Map<string, string>();
    let method = "GET";
    let body: URLSearchParams | undefined;
    for (let step = 0; step < 10; step++) {
      const res = await doFetch(url, {
        method,
        redirect: "manual",
        headers: {
          ...(cookies.size ? { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") } : {}),
          ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}),
        },
        ...(body ? { body } : {}),
        ...(request.signal ? { signal: request.signal } : {}),
      });
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(";");
        const eq = pair!.indexOf("=");
        if (eq > 0) cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
      }
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location) {
        const next = new URL(location, url);
        if (next.href.startsWith(redirectUri)) {
          await res.body?.cancel();
          return finish(next, state, redirectUri, request);
        }
        url = next;
        method = "GET";
        body = undefined;
        continue;
      }
      const html = await res.text();
      if (!res.ok) {
        throw new HpauthError("ACCESS_DENIED", `Demo login: the authorization page answered HTTP ${res.status}`, {
          status: res.status,
          provider: request.provider,
        });
      }
      const form = parseForms(html).find((f) => f.method === "post");
      if (!form) throw new HpauthError("INVALID_RESPONSE", "Demo login: no form on the authorization page");
      const params = new URLSearchParams();
      for (const [name, value] of form.fields) {
        if (/user|email|login/i.test(name)) params.append(name, user.username);
        else if (/pass/i.test(name)) params.append(name, user.password);
        else params.append(name, value);
      }
      // The consent page: press Allow (or Deny when asked to).
      const wanted =
        user.decision === "deny" ? /deny|decline|reject|cancel|no\b/i : /allow|approve|accept|consent|yes/i;
      const button = form.buttons.find(([n, v]) => wanted.test(`${n} ${v}`)) ?? form.buttons[0];
      if (button) params.append(button[0], button[1]);
      url = new URL(form.action || url.href, url);
      method = "POST";
      body = params;
    }
    throw new HpauthError("INVALID_RESPONSE", "Demo login: too many steps without reaching the redirect URI");
  };
}

function finish(location: URL, state: string, redirectUri: string, request: AuthorizationRequest): AuthorizationResult {
  const got = location.searchParams.get("state") ?? "";
  const a = Buffer.from(got);
  const b = Buffer.from(state);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new HpauthError("STATE_MISMATCH", "Demo login: the redirect carried a different state (possible CSRF)", {
      provider: request.provider,
    });
  }
  const error = location.searchParams.get("error");
  if (error)
    throw new HpauthError("ACCESS_DENIED", `Demo login: authorization refused (${error})`, { oauthError: error });
  const code = location.searchParams.get("code");
  if (!code) throw new HpauthError("INVALID_RESPONSE", "Demo login: the redirect carried no code");
  return { code, redirectUri };
}
