/**
 * HPE Aruba Networking Central: the custom three steps (login → session cookie + CSRF token; auth code for a
 * customer; code exchange), rotating refresh tokens by query string, the "one new access token per client id per
 * 30 minutes" limit on steps 1 and 2, and `GET /monitoring/v2/aps` with the gateway's rate-limit headers. Seed 003.
 */
import type { Ctx, Env, Route } from "../context.js";
import { ARUBA_APS } from "../data.js";
import {
  bearer,
  cookies,
  jsonParams,
  mediaType,
  NO_STORE,
  type Params,
  parseJsonObject,
  parseQuery,
  sendJson,
} from "../http.js";
import { opaque } from "../state.js";

const P = "aruba-central";
/** Login sessions last this long (the seed is silent; the UI's idle timeout is of this order). */
const SESSION_SECONDS = 15 * 60;

interface Session {
  csrf: string;
  clientId: string;
  username: string;
  expiresAt: number;
}

function error(ctx: Ctx, reason: string, status: number, err: string, description: string, headers = {}) {
  ctx.refuse(reason, status, { error: err, error_description: description }, { ...NO_STORE, ...headers });
}

/** Steps 1 and 2 are refused while the client id's last new access token is younger than the interval. */
function rateLimited(ctx: Ctx, clientId: string): boolean {
  const last = ctx.state.bag<number>("aruba-new-token").get(clientId);
  if (last === undefined) return false;
  const next = last + ctx.config.arubaNewTokenIntervalSeconds * 1000;
  const now = ctx.state.now();
  if (now >= next) return false;
  const wait = Math.ceil((next - now) / 1000);
  error(
    ctx,
    "rate_limited",
    429,
    "rate_limit_exceeded",
    `Only one new access token per client_id is allowed every ${Math.round(ctx.config.arubaNewTokenIntervalSeconds / 60)} minutes; ` +
      `the next one is allowed at ${new Date(next).toISOString()} (in ${wait} s). Use the refresh token instead.`,
    { "retry-after": wait },
  );
  return true;
}

function knownClient(ctx: Ctx, clientId: string | undefined | null): boolean {
  if (!clientId) {
    error(ctx, "invalid_request", 400, "invalid_request", "Missing required parameter: client_id");
    return false;
  }
  if (clientId !== ctx.config.creds[P].clientId) {
    error(ctx, "invalid_client", 401, "invalid_client", "Invalid client_id");
    return false;
  }
  return true;
}

function login(ctx: Ctx) {
  const c = ctx.config.creds[P];
  const clientId = ctx.url.searchParams.get("client_id");
  if (!knownClient(ctx, clientId)) return;
  if (mediaType(ctx.req) !== "application/json") {
    return error(ctx, "invalid_request", 415, "invalid_request", "Content-Type must be application/json");
  }
  const body = parseJsonObject(ctx.body);
  if (!body) return error(ctx, "invalid_request", 400, "invalid_request", "The body must be a JSON object");
  if (typeof body.username !== "string" || typeof body.password !== "string") {
    return error(ctx, "invalid_request", 400, "invalid_request", "username and password are required");
  }
  if (body.username !== c.username || body.password !== c.password) {
    return error(ctx, "invalid_credentials", 401, "invalid_credentials", "Invalid username or password");
  }
  if (rateLimited(ctx, clientId!)) return;
  const sid = opaque(40);
  const csrf = opaque(40);
  ctx.state.bag<Session>("aruba-sessions").set(sid, {
    csrf,
    clientId: clientId!,
    username: c.username,
    expiresAt: ctx.state.now() + SESSION_SECONDS * 1000,
  });
  ctx.state.count(P, "logins");
  sendJson(
    ctx.res,
    200,
    { status: true, message: "User logged in successfully" },
    {
      ...NO_STORE,
      "set-cookie": [
        `csrftoken=${csrf}; Path=/; Max-Age=${SESSION_SECONDS}; SameSite=Lax`,
        `session=${sid}; Path=/; Max-Age=${SESSION_SECONDS}; HttpOnly; SameSite=Lax`,
      ],
    },
  );
}

function authCode(ctx: Ctx) {
  const { state, config } = ctx;
  const q = ctx.url.searchParams;
  const clientId = q.get("client_id");
  if (!knownClient(ctx, clientId)) return;
  if (q.get("response_type") !== "code") {
    return error(ctx, "unsupported_response_type", 400, "unsupported_response_type", "response_type must be code");
  }
  const scope = q.get("scope");
  if (scope !== "read" && scope !== "all")
    return error(ctx, "invalid_scope", 400, "invalid_scope", "scope must be read or all");
  const sid = cookies(ctx.req).get("session");
  const sessions = state.bag<Session>("aruba-sessions");
  const session = sid ? sessions.get(sid) : undefined;
  if (!session || session.expiresAt <= state.now() || session.clientId !== clientId) {
    return error(ctx, "invalid_session", 401, "unauthorized", "Invalid or expired session: log in again");
  }
  const csrf = ctx.req.headers["x-csrf-token"];
  if (typeof csrf !== "string" || csrf !== session.csrf) {
    return error(ctx, "csrf_mismatch", 401, "unauthorized", "Invalid CSRF token");
  }
  if (mediaType(ctx.req) !== "application/json") {
    return error(ctx, "invalid_request", 415, "invalid_request", "Content-Type must be application/json");
  }
  const body = parseJsonObject(ctx.body);
  if (typeof body?.customer_id !== "string") {
    return error(ctx, "invalid_request", 400, "invalid_request", "customer_id is required");
  }
  if (body.customer_id !== config.creds[P].customerId) {
    return error(ctx, "invalid_customer", 403, "access_denied", "The user has no access to this customer_id");
  }
  if (rateLimited(ctx, clientId!)) return;
  const code = opaque(32);
  state.codes.set(code, {
    provider: P,
    clientId: clientId!,
    subject: session.username,
    scope,
    customerId: body.customer_id,
    expiresAt: state.now() + config.life[P].codeSeconds * 1000,
  });
  state.count(P, "codes");
  sendJson(ctx.res, 200, { auth_code: code }, NO_STORE);
}

function issue(ctx: Ctx, grantId: string): Record<string, unknown> {
  const { state, config } = ctx;
  const grant = state.grants.get(grantId)!;
  const access = opaque(32);
  const refresh = opaque(32);
  state.addAccess(access, grant, config.life[P].accessSeconds);
  state.addRefresh(refresh, grant, config.life[P].refreshSeconds);
  return {
    refresh_token: refresh,
    token_type: "bearer",
    access_token: access,
    expires_in: config.life[P].accessSeconds,
  };
}

function token(ctx: Ctx) {
  const { state, config } = ctx;
  const c = config.creds[P];
  // Documented: JSON body (code exchange) and query string (refresh); Aruba's python SDK sends step 3 as query too.
  const params: Params = parseQuery(ctx.url);
  if (ctx.body.length > 0) {
    if (mediaType(ctx.req) !== "application/json") {
      return error(ctx, "invalid_request", 415, "invalid_request", "Content-Type must be application/json");
    }
    const body = parseJsonObject(ctx.body);
    if (!body) return error(ctx, "invalid_request", 400, "invalid_request", "The body must be a JSON object");
    for (const [k, v] of jsonParams(body)) params.set(k, v);
  }
  const grantType = params.get("grant_type");
  if (!grantType)
    return error(ctx, "invalid_request", 400, "invalid_request", "Missing required parameter: grant_type");
  if (grantType !== "authorization_code" && grantType !== "refresh_token") {
    return error(ctx, "unsupported_grant_type", 400, "unsupported_grant_type", "Unsupported grant_type");
  }
  if (params.get("client_id") !== c.clientId || params.get("client_secret") !== c.clientSecret) {
    return error(ctx, "invalid_client", 401, "invalid_client", "Invalid client_id or client_secret");
  }
  if (grantType === "authorization_code") {
    const code = params.get("code");
    if (!code) return error(ctx, "invalid_request", 400, "invalid_request", "Missing required parameter: code");
    const rec = state.takeCode(P, code);
    if (rec === "expired") return error(ctx, "code_expired", 400, "invalid_grant", "Authorization code has expired");
    if (!rec || rec.clientId !== c.clientId)
      return error(ctx, "invalid_code", 400, "invalid_grant", "Invalid authorization code");
    const grant = state.newGrant(P, rec.clientId, rec.subject, rec.scope);
    state.bag<number>("aruba-new-token").set(rec.clientId, state.now());
    state.count(P, "tokensIssued");
    return sendJson(ctx.res, 200, issue(ctx, grant.id), NO_STORE);
  }
  const rt = params.get("refresh_token");
  if (!rt) return error(ctx, "invalid_request", 400, "invalid_request", "Missing required parameter: refresh_token");
  const used = state.useRefresh(P, rt, c.clientId, config.revokeFamilyOnRefreshReuse);
  if (!used.ok) return error(ctx, `refresh_${used.reason}`, 400, "invalid_grant", "Invalid refresh_token");
  state.count(P, "refreshes");
  sendJson(ctx.res, 200, issue(ctx, used.grant.id), NO_STORE);
}

function aps(ctx: Ctx) {
  const { state, config } = ctx;
  const token = bearer(ctx.req);
  const check = state.checkAccess(P, token);
  if (!check.ok) {
    // Documented: a new-Central (GreenLake) token does not work with classic Central; counted apart to show it.
    const newCentral = check.reason === "unknown" && state.checkAccess("greenlake-platform", token).ok;
    const reason = !token
      ? "missing_token"
      : newCentral
        ? "new_central_token"
        : check.reason === "unknown"
          ? "invalid_token"
          : `${check.reason}_token`;
    return ctx.refuse(
      reason,
      401,
      { error: "invalid_token", error_description: "access token is invalid" },
      {
        "www-authenticate": 'Bearer error="invalid_token"',
      },
    );
  }
  // The gateway's budgets (per client id): a day and a second, on the emulator clock.
  const now = state.now();
  const day = Math.floor(now / 86_400_000);
  const second = Math.floor(now / 1000);
  const usage = state.bag<{ day: number; dayN: number; second: number; secondN: number }>("aruba-api");
  const u = usage.get(check.grant.clientId) ?? { day, dayN: 0, second, secondN: 0 };
  if (u.day !== day) Object.assign(u, { day, dayN: 0 });
  if (u.second !== second) Object.assign(u, { second, secondN: 0 });
  usage.set(check.grant.clientId, u);
  const over = u.dayN >= config.arubaApiPerDay || u.secondN >= config.arubaApiPerSecond;
  if (!over) {
    u.dayN++;
    u.secondN++;
  }
  const headers = {
    "x-ratelimit-limit-day": config.arubaApiPerDay,
    "x-ratelimit-remaining-day": Math.max(0, config.arubaApiPerDay - u.dayN),
    "x-ratelimit-limit-second": config.arubaApiPerSecond,
    "x-ratelimit-remaining-second": Math.max(0, config.arubaApiPerSecond - u.secondN),
  };
  if (over) {
    const retry = u.dayN >= config.arubaApiPerDay ? Math.ceil(((day + 1) * 86_400_000 - now) / 1000) : 1;
    return ctx.refuse(
      "rate_limited",
      429,
      { message: "API rate limit exceeded" },
      { ...headers, "retry-after": retry },
    );
  }
  const q = ctx.url.searchParams;
  const offset = Math.max(0, Number.parseInt(q.get("offset") ?? "0", 10) || 0);
  const limit = Math.min(1000, Math.max(1, Number.parseInt(q.get("limit") ?? "100", 10) || 100));
  let list = ARUBA_APS;
  const group = q.get("group");
  if (group) list = list.filter((a) => a.group_name === group);
  const status = q.get("status");
  if (status) list = list.filter((a) => a.status === status);
  const page = list.slice(offset, offset + limit);
  sendJson(ctx.res, 200, { aps: page, count: page.length, total: list.length }, headers);
}

export function arubaRoutes(_env: Env): Route[] {
  return [
    { method: "POST", path: "/oauth2/authorize/central/api/login", endpoints: ["login"], handle: login },
    { method: "POST", path: "/oauth2/authorize/central/api", endpoints: ["code"], handle: authCode },
    { method: "POST", path: "/oauth2/token", endpoints: ["token"], counts: "tokenRequests", handle: token },
    { method: "GET", path: "/monitoring/v2/aps", endpoints: ["api"], counts: "apiCalls", handle: aps },
  ];
}
