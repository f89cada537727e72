/**
 * HP TechPulse Analytics (HP DaaS): authorization code in the browser (a real login page, then consent with Allow /
 * Deny, and a session cookie that skips both next time), the code exchange with client_id + client_secret in the
 * form body, rotating refresh with HTTP Basic, and the paged report `POST /analytics/v1/reports/hwinv/deviceType/
 * type/graph`. PKCE S256 is accepted when a challenge is sent, though HP does not document it. Seed 000.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Ctx, Env, Route } from "../context.js";
import { TECHPULSE_DEVICE_TYPES } from "../data.js";
import {
  basicAuth,
  bearer,
  cookies,
  escapeHtml,
  mediaType,
  NO_STORE,
  parseForm,
  parseJsonObject,
  redirect,
  sendHtml,
  sendJson,
} from "../http.js";
import { opaque } from "../state.js";

const P = "techpulse";
const SESSION_COOKIE = "daas_session";
/** The browser session that lets a returning user skip the screens (the seed is silent on its length). */
const SESSION_SECONDS = 12 * 3600;
/** How long a login/consent screen stays usable. */
const INTERACTION_SECONDS = 10 * 60;

interface AuthRequest {
  clientId: string;
  redirectUri: string;
  scope: string;
  state: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
}

interface Interaction extends AuthRequest {
  expiresAt: number;
}

interface Session {
  username: string;
  expiresAt: number;
  consented: Set<string>;
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Exact match, except that a registered loopback http URI matches any port (RFC 8252 §7.3). */
export function redirectUriAllowed(registered: readonly string[], candidate: string): boolean {
  if (registered.includes(candidate)) return true;
  let c: URL;
  try {
    c = new URL(candidate);
  } catch {
    return false;
  }
  if (c.protocol !== "http:" || !LOOPBACK_HOSTS.has(c.hostname) || c.username || c.password || c.hash) return false;
  return registered.some((r) => {
    try {
      const u = new URL(r);
      return u.protocol === "http:" && u.hostname === c.hostname && u.pathname === c.pathname && u.search === c.search;
    } catch {
      return false;
    }
  });
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · HP TechPulse (emulated)</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f6f8;margin:0;display:flex;justify-content:center;padding-top:8vh}
main{background:#fff;border-radius:8px;box-shadow:0 1px 4px #0002;padding:2rem;width:22rem}
h1{font-size:1.3rem;margin-top:0}label{display:block;margin:.8rem 0 .2rem}input[type=text],input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem}
button{margin-top:1rem;padding:.5rem 1.2rem;margin-right:.5rem}.error{color:#b00020}.note{color:#555;font-size:.85rem}
</style></head><body><main>${body}</main></body></html>`;
}

function loginPage(interaction: string, clientId: string, message?: string): string {
  return page(
    "Sign in",
    `<h1>Sign in to HP TechPulse</h1>
<p class="note">Application <code>${escapeHtml(clientId)}</code> asks to read your analytics.</p>
${message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : ""}
<form method="post" action="/oauth/v1/authorize/login">
<input type="hidden" name="interaction" value="${escapeHtml(interaction)}">
<label for="username">Email</label><input type="text" id="username" name="username" autocomplete="username" required>
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`,
  );
}

function consentPage(interaction: string, clientId: string, username: string, scope: string): string {
  return page(
    "Authorize",
    `<h1>Allow access?</h1>
<p>Signed in as <strong>${escapeHtml(username)}</strong>.</p>
<p>Application <code>${escapeHtml(clientId)}</code> wants <strong>${escapeHtml(scope)}</strong> access to your HP TechPulse Analytics data.</p>
<form method="post" action="/oauth/v1/authorize/consent">
<input type="hidden" name="interaction" value="${escapeHtml(interaction)}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}

function errorPage(ctx: Ctx, reason: string, status: number, message: string) {
  ctx.refusal = reason;
  ctx.state.refuse(P, reason);
  sendHtml(ctx.res, status, page("Error", `<h1>Something went wrong</h1><p class="error">${escapeHtml(message)}</p>`));
}

function redirectWith(ctx: Ctx, redirectUri: string, params: Record<string, string | undefined>, headers = {}) {
  const u = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  redirect(ctx.res, u.href, headers);
}

function session(ctx: Ctx): [string, Session] | undefined {
  const id = cookies(ctx.req).get(SESSION_COOKIE);
  const s = id ? ctx.state.bag<Session>("techpulse-sessions").get(id) : undefined;
  return id && s && s.expiresAt > ctx.state.now() ? [id, s] : undefined;
}

function issueCode(ctx: Ctx, req: AuthRequest, username: string, headers = {}) {
  const code = opaque(8 + 24);
  ctx.state.codes.set(code, {
    provider: P,
    clientId: req.clientId,
    subject: username,
    scope: req.scope,
    redirectUri: req.redirectUri,
    ...(req.codeChallenge ? { codeChallenge: req.codeChallenge, codeChallengeMethod: req.codeChallengeMethod! } : {}),
    expiresAt: ctx.state.now() + ctx.config.life[P].codeSeconds * 1000,
  });
  ctx.state.count(P, "codes");
  redirectWith(ctx, req.redirectUri, { code, state: req.state }, headers);
}

function authorize(ctx: Ctx) {
  const q = ctx.url.searchParams;
  const c = ctx.config.creds[P];
  const clientId = q.get("client_id");
  const redirectUri = q.get("redirect_uri");
  // Until client and redirect URI are known good, errors are shown here, never redirected (RFC 6749 §4.1.2.1).
  if (!clientId) return errorPage(ctx, "invalid_request", 400, "The request is missing the client_id parameter.");
  if (clientId !== c.clientId) return errorPage(ctx, "invalid_client", 400, "Unknown client_id.");
  if (!redirectUri) return errorPage(ctx, "invalid_request", 400, "The request is missing the redirect_uri parameter.");
  if (!redirectUriAllowed(c.redirectUris, redirectUri)) {
    return errorPage(
      ctx,
      "invalid_redirect_uri",
      400,
      "The redirect_uri does not match any registered for this application.",
    );
  }
  const state = q.get("state") ?? undefined;
  const fail = (reason: string, error: string, description: string) => {
    ctx.refusal = reason;
    ctx.state.refuse(P, reason);
    redirectWith(ctx, redirectUri, { error, error_description: description, state });
  };
  const responseType = q.get("response_type");
  if (!responseType) return fail("invalid_request", "invalid_request", "response_type is required");
  if (responseType !== "code")
    return fail("unsupported_response_type", "unsupported_response_type", "response_type must be code");
  const scope = q.get("scope");
  if (!scope) return fail("invalid_request", "invalid_request", "scope is required");
  if (scope !== "Read") return fail("invalid_scope", "invalid_scope", "The only scope is Read");
  if (!state) return fail("invalid_request", "invalid_request", "state is required");
  const challenge = q.get("code_challenge") ?? undefined;
  const method = q.get("code_challenge_method") ?? (challenge ? "plain" : undefined);
  if (challenge !== undefined) {
    if (method !== "S256" && method !== "plain") {
      return fail("invalid_request", "invalid_request", "code_challenge_method must be S256");
    }
    if (!/^[A-Za-z0-9._~-]{43,128}$/.test(challenge))
      return fail("invalid_request", "invalid_request", "invalid code_challenge");
  } else if (q.has("code_challenge_method")) {
    return fail("invalid_request", "invalid_request", "code_challenge_method without code_challenge");
  }
  const req: AuthRequest = {
    clientId,
    redirectUri,
    scope,
    state,
    ...(challenge ? { codeChallenge: challenge, codeChallengeMethod: method! } : {}),
  };
  const s = session(ctx);
  // "If the session already exists then the authorization screen is by-passed."
  if (s?.[1].consented.has(clientId)) return issueCode(ctx, req, s[1].username);
  const id = opaque(32);
  ctx.state.bag<Interaction>("techpulse-interactions").set(id, {
    ...req,
    expiresAt: ctx.state.now() + INTERACTION_SECONDS * 1000,
  });
  if (s) return sendHtml(ctx.res, 200, consentPage(id, clientId, s[1].username, scope));
  sendHtml(ctx.res, 200, loginPage(id, clientId));
}

function interaction(ctx: Ctx, form: Map<string, string>): [string, Interaction] | undefined {
  const id = form.get("interaction");
  const bag = ctx.state.bag<Interaction>("techpulse-interactions");
  const it = id ? bag.get(id) : undefined;
  if (!id || !it || it.expiresAt <= ctx.state.now()) {
    errorPage(ctx, "interaction_expired", 400, "This sign-in request has expired. Start again from your application.");
    return undefined;
  }
  return [id, it];
}

function loginPost(ctx: Ctx) {
  const form =
    mediaType(ctx.req) === "application/x-www-form-urlencoded" ? parseForm(ctx.body) : new Map<string, string>();
  const found = interaction(ctx, form);
  if (!found) return;
  const [id, it] = found;
  const c = ctx.config.creds[P];
  if (form.get("username") !== c.username || form.get("password") !== c.password) {
    ctx.refusal = "invalid_credentials";
    ctx.state.refuse(P, "invalid_credentials");
    return sendHtml(ctx.res, 401, loginPage(id, it.clientId, "The email or password is incorrect."));
  }
  ctx.state.count(P, "logins");
  const sid = opaque(40);
  ctx.state.bag<Session>("techpulse-sessions").set(sid, {
    username: c.username,
    expiresAt: ctx.state.now() + SESSION_SECONDS * 1000,
    consented: new Set(),
  });
  sendHtml(ctx.res, 200, consentPage(id, it.clientId, c.username, it.scope), {
    "set-cookie": `${SESSION_COOKIE}=${sid}; Path=/; Max-Age=${SESSION_SECONDS}; HttpOnly; SameSite=Lax`,
  });
}

function consentPost(ctx: Ctx) {
  const form =
    mediaType(ctx.req) === "application/x-www-form-urlencoded" ? parseForm(ctx.body) : new Map<string, string>();
  const found = interaction(ctx, form);
  if (!found) return;
  const [id, it] = found;
  const s = session(ctx);
  if (!s) return sendHtml(ctx.res, 200, loginPage(id, it.clientId, "Your session has ended: sign in again."));
  const decision = form.get("decision");
  if (decision !== "allow" && decision !== "deny") {
    return errorPage(ctx, "invalid_request", 400, "Choose Allow or Deny.");
  }
  ctx.state.bag<Interaction>("techpulse-interactions").delete(id);
  if (decision === "deny") {
    ctx.refusal = "access_denied";
    ctx.state.refuse(P, "access_denied");
    return redirectWith(ctx, it.redirectUri, { error: "access_denied", state: it.state });
  }
  s[1].consented.add(it.clientId);
  issueCode(ctx, it, s[1].username);
}

function tokenError(ctx: Ctx, reason: string, status: number, error: string, description: string, basic = false) {
  ctx.refuse(
    reason,
    status,
    { error, error_description: description },
    {
      ...NO_STORE,
      ...(basic ? { "www-authenticate": 'Basic realm="daas.api.hp.com"' } : {}),
    },
  );
}

const safeEqual = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

function tokenAnswer(ctx: Ctx, access: string, refresh: string) {
  const life = ctx.config.life[P].accessSeconds;
  sendJson(
    ctx.res,
    200,
    {
      access_token: access,
      scope: "Read",
      token_type: "Bearer",
      refresh_token: refresh,
      // The seed's sample says 1799999 for a documented 1800 s: reproduced only when asked for.
      expires_in: ctx.config.techpulseExpiresInMillis ? life * 1000 - 1 : life,
    },
    NO_STORE,
  );
}

function token(ctx: Ctx) {
  const { state, config } = ctx;
  const c = config.creds[P];
  if (mediaType(ctx.req) !== "application/x-www-form-urlencoded") {
    return tokenError(
      ctx,
      "invalid_request",
      400,
      "invalid_request",
      "Content-Type must be application/x-www-form-urlencoded",
    );
  }
  const form = parseForm(ctx.body);
  const grantType = form.get("grant_type");
  if (!grantType) return tokenError(ctx, "invalid_request", 400, "invalid_request", "grant_type is required");
  if (grantType === "authorization_code") {
    const id = form.get("client_id");
    const secret = form.get("client_secret");
    if (!id || secret === undefined) {
      return tokenError(
        ctx,
        "invalid_client",
        401,
        "invalid_client",
        "client_id and client_secret are required in the body",
      );
    }
    if (id !== c.clientId || !safeEqual(secret, c.clientSecret)) {
      return tokenError(ctx, "invalid_client", 401, "invalid_client", "Invalid client credentials");
    }
    const code = form.get("code");
    const redirectUri = form.get("redirect_uri");
    if (!code) return tokenError(ctx, "invalid_request", 400, "invalid_request", "code is required");
    if (!redirectUri) return tokenError(ctx, "invalid_request", 400, "invalid_request", "redirect_uri is required");
    const rec = state.takeCode(P, code);
    if (rec === "expired") return tokenError(ctx, "code_expired", 400, "invalid_grant", "Authorization code expired");
    if (!rec || rec.clientId !== id)
      return tokenError(ctx, "invalid_code", 400, "invalid_grant", "Invalid authorization code");
    if (rec.redirectUri !== redirectUri) {
      return tokenError(
        ctx,
        "redirect_uri_mismatch",
        400,
        "invalid_grant",
        "redirect_uri does not match the authorization request",
      );
    }
    const verifier = form.get("code_verifier");
    if (rec.codeChallenge) {
      if (!verifier || !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) {
        return tokenError(ctx, "pkce_failed", 400, "invalid_grant", "code_verifier is missing or malformed");
      }
      const computed =
        rec.codeChallengeMethod === "S256" ? createHash("sha256").update(verifier).digest("base64url") : verifier;
      if (!safeEqual(computed, rec.codeChallenge)) {
        return tokenError(ctx, "pkce_failed", 400, "invalid_grant", "code_verifier does not match the code_challenge");
      }
    } else if (verifier !== undefined) {
      // RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a downgrade attempt.
      return tokenError(
        ctx,
        "pkce_failed",
        400,
        "invalid_grant",
        "code_verifier sent for a code issued without code_challenge",
      );
    }
    if (config.techpulseLatestTokenOnly) {
      // "A subsequent OAuth2 flow that generated a new access token. The previous token will be invalidated."
      for (const g of state.grants.values()) {
        if (g.provider === P && g.clientId === id && g.subject === rec.subject) state.revokeGrant(g.id);
      }
    }
    const grant = state.newGrant(P, id, rec.subject, rec.scope);
    const access = opaque(28);
    const refresh = opaque(32);
    state.addAccess(access, grant, config.life[P].accessSeconds);
    state.addRefresh(refresh, grant, config.life[P].refreshSeconds);
    state.count(P, "tokensIssued");
    return tokenAnswer(ctx, access, refresh);
  }
  if (grantType === "refresh_token") {
    const basic = basicAuth(ctx.req);
    if (!basic || basic === "malformed") {
      return tokenError(
        ctx,
        "invalid_client",
        401,
        "invalid_client",
        "HTTP Basic client authentication is required",
        true,
      );
    }
    if (basic.id !== c.clientId || !safeEqual(basic.secret, c.clientSecret)) {
      return tokenError(ctx, "invalid_client", 401, "invalid_client", "Invalid client credentials", true);
    }
    const rt = form.get("refresh_token");
    if (!rt) return tokenError(ctx, "invalid_request", 400, "invalid_request", "refresh_token is required");
    const used = state.useRefresh(P, rt, basic.id, config.revokeFamilyOnRefreshReuse);
    if (!used.ok) return tokenError(ctx, `refresh_${used.reason}`, 400, "invalid_grant", "Invalid refresh token");
    const access = opaque(28);
    const refresh = opaque(32);
    state.addAccess(access, used.grant, config.life[P].accessSeconds);
    state.addRefresh(refresh, used.grant, config.life[P].refreshSeconds);
    if (config.techpulseLatestTokenOnly) state.supersedeAccess(used.grant.id, access);
    state.count(P, "refreshes");
    return tokenAnswer(ctx, access, refresh);
  }
  tokenError(
    ctx,
    "unsupported_grant_type",
    400,
    "unsupported_grant_type",
    "grant_type must be authorization_code or refresh_token",
  );
}

/** Apigee-style faults, as HP's API gateway answers a bad bearer token. */
function fault(ctx: Ctx, reason: string, faultstring: string, errorcode: string) {
  ctx.refuse(
    reason,
    401,
    { fault: { faultstring, detail: { errorcode } } },
    {
      "www-authenticate": 'Bearer realm="daas.api.hp.com", error="invalid_token"',
    },
  );
}

function report(ctx: Ctx) {
  const token = bearer(ctx.req);
  if (!token) return fault(ctx, "missing_token", "Invalid access token", "oauth.v2.InvalidAccessToken");
  const check = ctx.state.checkAccess(P, token);
  if (!check.ok) {
    if (check.reason === "expired") {
      return fault(ctx, "expired_token", "Access Token expired", "keymanagement.service.access_token_expired");
    }
    if (check.reason === "revoked") {
      return fault(ctx, "revoked_token", "Invalid Access Token", "keymanagement.service.invalid_access_token");
    }
    return fault(ctx, "invalid_token", "Invalid Access Token", "keymanagement.service.invalid_access_token");
  }
  // Paging from the query string or a JSON body (both seen in HP's samples and public scripts).
  const body = ctx.body.length ? parseJsonObject(ctx.body) : {};
  if (body === undefined)
    return ctx.refuse("invalid_request", 400, { error: "invalid_request", error_description: "The body must be JSON" });
  const pick = (k: string, dflt: number) => {
    const raw = ctx.url.searchParams.get(k) ?? (body[k] as unknown);
    if (raw === undefined || raw === null || raw === "") return dflt;
    const n = Number(raw);
    return Number.isInteger(n) && n >= 0 ? n : Number.NaN;
  };
  const startIndex = pick("startIndex", 0);
  const count = pick("count", 50);
  if (Number.isNaN(startIndex) || Number.isNaN(count) || count < 1 || count > 1000) {
    return ctx.refuse("invalid_request", 400, {
      error: "invalid_request",
      error_description: "startIndex must be an integer ≥ 0 and count an integer from 1 to 1000",
    });
  }
  const rows = TECHPULSE_DEVICE_TYPES.slice(startIndex, startIndex + count);
  sendJson(ctx.res, 200, {
    totalCount: TECHPULSE_DEVICE_TYPES.length,
    startIndex,
    count: rows.length,
    resources: rows,
  });
}

export function techpulseRoutes(_env: Env): Route[] {
  return [
    { method: "GET", path: "/oauth/v1/authorize", endpoints: ["authorize"], handle: authorize },
    { method: "POST", path: "/oauth/v1/authorize/login", endpoints: ["authorize"], handle: loginPost },
    { method: "POST", path: "/oauth/v1/authorize/consent", endpoints: ["authorize"], handle: consentPost },
    { method: "POST", path: "/oauth/v1/token", endpoints: ["token"], counts: "tokenRequests", handle: token },
    {
      method: "POST",
      path: "/analytics/v1/reports/hwinv/deviceType/type/graph",
      endpoints: ["api"],
      counts: "apiCalls",
      handle: report,
    },
  ];
}
