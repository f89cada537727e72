/**
 * HPE GreenLake platform (GLP) and new HPE Aruba Networking Central, on one origin standing for
 * `global.api.greenlake.hpe.com` (its paths and new Central's never collide, and real clients keep only the host):
 * - `POST /authorization/v2/oauth2/{workspaceId}/token`: the workspace's issuer. `client_credentials` (form body or
 *   Basic) for the API client's own workspace; RFC 8693 token exchange of an MSP workspace token for a tenant's.
 * - `GET /devices/v1/devices`, `GET /workspaces/v1/msp-tenants`: GLP lists, `offset`/`limit` paging and the
 *   documented `{items, count, offset, total}` envelope; each workspace sees its own devices.
 * - `GET /network-monitoring/v1/aps`: new Central, `limit`/`next` cursor paging. A classic Central token is refused
 *   (401), as a new-Central token is by the classic API ("Tokens for Central will not work with Classic Central, and
 *   vice versa").
 * The SSO path (`/as/token.oauth2` on the greenlake origin, the same PingFederate) also issues GLP tokens: see
 * greenlake.ts. Sources and every choice where they are silent: docs/greenlake-platform.md.
 */
import type { Ctx, Env, Route } from "../context.js";
import { basicAuth, bearer, mediaType, NO_STORE, parseForm, sendJson } from "../http.js";
import { signJwt } from "../jwt.js";
import { hex, uuid } from "../state.js";

const P = "greenlake-platform";
export const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const ISSUER_PATH = /^\/authorization\/v2\/oauth2\/([A-Za-z0-9-]{1,64})\/token$/;
/** GLP documents 160 requests a minute per workspace on the devices list (devices v1). */
const DEVICES_PER_MINUTE = 160;
const DEVICES_MAX_LIMIT = 2000;
const APS_MAX_LIMIT = 1000;

/** Which workspace each GLP token is scoped to (and, for an exchanged one, the MSP workspace it came from). */
interface Scope {
  workspaceId: string;
  actor?: string;
}

const norm = (id: string) => id.replace(/-/g, "").toLowerCase();

function oauthError(ctx: Ctx, reason: string, status: number, error: string, description: string, basic = false) {
  ctx.refuse(
    reason,
    status,
    { error, error_description: description },
    { ...NO_STORE, ...(basic ? { "www-authenticate": 'Basic realm="GreenLake"' } : {}) },
  );
}

/**
 * Issues a GLP access token scoped to `workspaceId`: an RS256 JWT signed by the SSO's key (same PingFederate), with
 * DSCC's documented claim set (platform_customer_id is GreenLake's old name for the workspace id) plus `hpe_workspace_id`
 * and, for an exchanged token, RFC 8693's `act` naming the MSP client.
 */
export async function issueGlpToken(
  ctx: Pick<Ctx, "state" | "config" | "keys">,
  opts: { clientId: string; workspaceId: string; issuer: string; actor?: { clientId: string; workspaceId: string } },
): Promise<{ access_token: string; token_type: "Bearer"; expires_in: number }> {
  const { state, config, keys } = ctx;
  const life = config.life[P].accessSeconds;
  const grant = state.newGrant(P, opts.clientId, opts.clientId, "");
  const iat = Math.floor(state.now() / 1000);
  const jwt = await signJwt(
    keys.greenlake,
    {
      client_id: opts.clientId,
      iss: opts.issuer,
      aud: "external_api",
      sub: opts.clientId,
      user_ctx: hex(16),
      auth_source: "ccs_token_management",
      platform_customer_id: opts.workspaceId,
      hpe_workspace_id: opts.workspaceId,
      ...(opts.actor ? { act: { sub: opts.actor.clientId, hpe_workspace_id: opts.actor.workspaceId } } : {}),
      iat,
      application_instance_id: uuid(),
      exp: iat + life,
    },
    { "pi.atm": "glp0" },
  );
  state.addAccess(jwt, grant, life);
  const scope: Scope = { workspaceId: opts.workspaceId, ...(opts.actor ? { actor: opts.actor.workspaceId } : {}) };
  state.bag<Scope>("glp-scope").set(jwt, scope);
  state.count(P, "tokensIssued");
  return { access_token: jwt, token_type: "Bearer", expires_in: life };
}

/** The GLP API client's credentials, from the body or a Basic header (never both, and never conflicting). */
function clientOf(ctx: Ctx, params: Map<string, string>): { id?: string; secret?: string; basic: boolean } | undefined {
  const basic = basicAuth(ctx.req);
  if (basic === "malformed") {
    oauthError(ctx, "invalid_client", 401, "invalid_client", "Invalid client or client credentials.", true);
    return undefined;
  }
  const bodyId = params.get("client_id");
  const bodySecret = params.get("client_secret");
  if (basic && ((bodyId !== undefined && bodyId !== basic.id) || bodySecret !== undefined)) {
    oauthError(ctx, "invalid_request", 400, "invalid_request", "Conflicting client credentials in header and body");
    return undefined;
  }
  return basic
    ? { id: basic.id, secret: basic.secret, basic: true }
    : {
        ...(bodyId !== undefined ? { id: bodyId } : {}),
        ...(bodySecret !== undefined ? { secret: bodySecret } : {}),
        basic: false,
      };
}

async function token(ctx: Ctx) {
  const { state, config } = ctx;
  const c = config.creds[P];
  const target = norm(ISSUER_PATH.exec(ctx.url.pathname)?.[1] ?? "");
  const issuer = `${config.baseUrls[P]}/authorization/v2/oauth2/${target}`;
  if (mediaType(ctx.req) !== "application/x-www-form-urlencoded") {
    return oauthError(
      ctx,
      "invalid_request",
      400,
      "invalid_request",
      "Content-Type must be application/x-www-form-urlencoded",
    );
  }
  const params = parseForm(ctx.body);
  const client = clientOf(ctx, params);
  if (!client) return;
  const grantType = params.get("grant_type");
  if (!grantType) return oauthError(ctx, "invalid_request", 400, "invalid_request", "grant_type is required");
  // Every well-formed workspace id stands for a workspace (GreenLake has many): what counts is whose it is.

  if (grantType === "client_credentials") {
    if (!client.id || client.secret === undefined || client.id !== c.clientId || client.secret !== c.clientSecret) {
      return oauthError(
        ctx,
        "invalid_client",
        401,
        "invalid_client",
        "Invalid client or client credentials.",
        client.basic,
      );
    }
    // An API client belongs to one workspace: its credentials get nothing at another workspace's issuer.
    if (target !== norm(c.workspaceId)) {
      return oauthError(
        ctx,
        "wrong_workspace",
        401,
        "invalid_client",
        "The API client is not registered in this workspace.",
        client.basic,
      );
    }
    return sendJson(
      ctx.res,
      200,
      await issueGlpToken(ctx, { clientId: c.clientId, workspaceId: target, issuer }),
      NO_STORE,
    );
  }

  if (grantType === TOKEN_EXCHANGE) {
    // Client authentication is optional here (integrators send none); if sent, it must be right.
    if (client.id !== undefined && (client.id !== c.clientId || client.secret !== c.clientSecret)) {
      return oauthError(
        ctx,
        "invalid_client",
        401,
        "invalid_client",
        "Invalid client or client credentials.",
        client.basic,
      );
    }
    const subject = params.get("subject_token");
    const subjectType = params.get("subject_token_type");
    if (!subject) return oauthError(ctx, "invalid_request", 400, "invalid_request", "subject_token is required");
    if (subjectType !== ACCESS_TOKEN_TYPE) {
      return oauthError(
        ctx,
        "invalid_request",
        400,
        "invalid_request",
        `subject_token_type must be ${ACCESS_TOKEN_TYPE}`,
      );
    }
    const requested = params.get("requested_token_type");
    if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) {
      return oauthError(
        ctx,
        "invalid_request",
        400,
        "invalid_request",
        `requested_token_type must be ${ACCESS_TOKEN_TYPE}`,
      );
    }
    const check = state.checkAccess(P, subject);
    if (!check.ok) {
      // RFC 8693 §2.2.2: an unacceptable subject token is invalid_request.
      const why = check.reason === "unknown" ? "is not a GreenLake token" : `is ${check.reason}`;
      return oauthError(ctx, `subject_${check.reason}`, 400, "invalid_request", `subject_token ${why}`);
    }
    const scope = state.bag<Scope>("glp-scope").get(subject);
    if (!scope || scope.workspaceId !== norm(c.workspaceId) || scope.actor !== undefined) {
      return oauthError(ctx, "not_msp_token", 400, "invalid_request", "subject_token is not an MSP workspace token");
    }
    if (!c.tenantWorkspaceIds.some((t) => norm(t) === target)) {
      return oauthError(
        ctx,
        "not_a_tenant",
        400,
        "invalid_target",
        `Workspace ${target} is not a tenant of the MSP workspace`,
      );
    }
    return sendJson(
      ctx.res,
      200,
      {
        ...(await issueGlpToken(ctx, {
          clientId: check.grant.clientId,
          workspaceId: target,
          issuer,
          actor: { clientId: check.grant.clientId, workspaceId: scope.workspaceId },
        })),
        issued_token_type: ACCESS_TOKEN_TYPE,
      },
      NO_STORE,
    );
  }
  return oauthError(ctx, "unsupported_grant_type", 400, "unsupported_grant_type", "unsupported grant type");
}

function glError(ctx: Ctx, reason: string, status: number, message: string) {
  ctx.refuse(
    reason,
    status,
    {
      httpStatusCode: status,
      errorCode:
        status === 401
          ? "HPE_GL_ERROR_UNAUTHORIZED"
          : status === 403
            ? "HPE_GL_ERROR_FORBIDDEN"
            : "HPE_GL_ERROR_BAD_REQUEST",
      message,
      debugId: uuid(),
    },
    status === 401 ? { "www-authenticate": 'Bearer realm="GreenLake"' } : {},
  );
}

/** The workspace a valid GLP token is scoped to; otherwise the refusal is sent (classic Central tokens named as such). */
function authorized(ctx: Ctx, api: "glp" | "central"): Scope | undefined {
  const token = bearer(ctx.req);
  if (!token) {
    glError(ctx, "missing_token", 401, "Missing Authorization header with a Bearer token");
    return undefined;
  }
  const check = ctx.state.checkAccess(P, token);
  if (!check.ok) {
    if (check.reason === "unknown" && ctx.state.checkAccess("aruba-central", token).ok) {
      // Documented: tokens for classic Central do not work with new Central (and vice versa).
      glError(ctx, "classic_central_token", 401, "Unauthorized: a classic Central token is not valid for this API");
    } else if (check.reason === "expired") {
      glError(ctx, "expired_token", 401, "Jwt verification failed: signature has expired");
    } else if (check.reason === "revoked") {
      glError(ctx, "revoked_token", 401, "Jwt verification failed: token has been revoked");
    } else
      glError(
        ctx,
        "invalid_token",
        401,
        `Jwt verification failed: invalid token${api === "central" ? " for Central" : ""}`,
      );
    return undefined;
  }
  return ctx.state.bag<Scope>("glp-scope").get(token);
}

function intParam(ctx: Ctx, name: string, dflt: number, min: number, max: number): number | "bad" {
  const raw = ctx.url.searchParams.get(name);
  if (raw === null) return dflt;
  const n = Number(raw);
  return Number.isInteger(n) && n >= min && n <= max ? n : "bad";
}

/** A workspace's devices: a fixed catalogue, a slice of it per workspace (the MSP sees more than its tenants). */
function devicesOf(ctx: Ctx, workspaceId: string): Record<string, unknown>[] {
  const c = ctx.config.creds[P];
  const index =
    workspaceId === norm(c.workspaceId) ? 0 : 1 + c.tenantWorkspaceIds.findIndex((t) => norm(t) === workspaceId);
  const n = index === 0 ? 7 : 3 + index;
  return Array.from({ length: n }, (_, i) => ({
    id: `${workspaceId.slice(0, 8)}-0000-4000-8000-${String(i).padStart(12, "0")}`,
    serialNumber: `SG${workspaceId.slice(0, 4).toUpperCase()}${String(i).padStart(4, "0")}`,
    macAddress: `20:4c:03:${workspaceId.slice(0, 2)}:00:${i.toString(16).padStart(2, "0")}`,
    partNumber: i % 2 ? "R4W02A" : "JL658A",
    deviceType: i % 2 ? "AP" : "SWITCH",
    model: i % 2 ? "AP-635" : "6300M",
    type: "devices/device",
    region: "eu-central",
    assignedState: "ASSIGNED_TO_SERVICE",
    archived: false,
    tenantWorkspaceId: index === 0 ? null : workspaceId,
  }));
}

function page(ctx: Ctx, all: unknown[], maxLimit: number): void {
  const offset = intParam(ctx, "offset", 0, 0, Number.MAX_SAFE_INTEGER);
  const limit = intParam(ctx, "limit", maxLimit, 1, maxLimit);
  if (offset === "bad" || limit === "bad") {
    glError(ctx, "invalid_paging", 400, `offset must be ≥ 0 and limit 1-${maxLimit}`);
    return;
  }
  const items = all.slice(offset, offset + limit);
  sendJson(ctx.res, 200, { items, count: items.length, offset, total: all.length });
}

function devices(ctx: Ctx) {
  const scope = authorized(ctx, "glp");
  if (!scope) return;
  const minute = Math.floor(ctx.state.now() / 60_000);
  const usage = ctx.state.bag<{ minute: number; n: number }>("glp-devices-rate");
  const u = usage.get(scope.workspaceId);
  const cur = u && u.minute === minute ? u : { minute, n: 0 };
  cur.n++;
  usage.set(scope.workspaceId, cur);
  if (cur.n > DEVICES_PER_MINUTE) {
    const wait = 60 - Math.floor((ctx.state.now() / 1000) % 60);
    ctx.refuse(
      "rate_limited",
      429,
      {
        httpStatusCode: 429,
        errorCode: "HPE_GL_ERROR_TOO_MANY_REQUESTS",
        message: "Too many requests",
        debugId: uuid(),
      },
      { "retry-after": wait },
    );
    return;
  }
  page(ctx, devicesOf(ctx, scope.workspaceId), DEVICES_MAX_LIMIT);
}

function mspTenants(ctx: Ctx) {
  const scope = authorized(ctx, "glp");
  if (!scope) return;
  const c = ctx.config.creds[P];
  if (scope.workspaceId !== norm(c.workspaceId) || scope.actor) {
    return glError(ctx, "not_msp", 403, "The workspace of this token is not an MSP workspace");
  }
  const tenants = c.tenantWorkspaceIds.map((id, i) => ({
    id: norm(id),
    workspaceName: `Tenant ${i + 1}`,
    type: "workspace",
    createdAt: "2026-01-05T09:00:00.000Z",
  }));
  page(ctx, tenants, 100);
}

/** New Central's AP list: `limit` (≤ 1000) and the `next` cursor (1-based), `next: null` on the last page. */
function centralAps(ctx: Ctx) {
  const scope = authorized(ctx, "central");
  if (!scope) return;
  const limit = intParam(ctx, "limit", 100, 1, APS_MAX_LIMIT);
  const next = intParam(ctx, "next", 1, 1, Number.MAX_SAFE_INTEGER);
  if (limit === "bad" || next === "bad")
    return glError(ctx, "invalid_paging", 400, "limit must be 1-1000 and next ≥ 1");
  const all = devicesOf(ctx, scope.workspaceId)
    .filter((d) => d.deviceType === "AP")
    .map((d, i) => ({
      serialNumber: d.serialNumber,
      macAddress: d.macAddress,
      deviceName: `AP-${String(i + 1).padStart(2, "0")}`,
      model: d.model,
      status: i === 2 ? "OFFLINE" : "ONLINE",
      siteId: "1001",
      siteName: "Headquarters",
      persona: "CAMPUS_AP",
    }));
  const start = next - 1;
  const items = all.slice(start, start + limit);
  const after = start + items.length;
  sendJson(ctx.res, 200, {
    items,
    count: items.length,
    total: all.length,
    next: after < all.length ? after + 1 : null,
  });
}

export function glpRoutes(_env: Env): Route[] {
  return [
    { method: "POST", path: ISSUER_PATH, endpoints: ["token"], counts: "tokenRequests", handle: token },
    { method: "GET", path: "/devices/v1/devices", endpoints: ["api"], counts: "apiCalls", handle: devices },
    { method: "GET", path: "/workspaces/v1/msp-tenants", endpoints: ["api"], counts: "apiCalls", handle: mspTenants },
    { method: "GET", path: "/network-monitoring/v1/aps", endpoints: ["api"], counts: "apiCalls", handle: centralAps },
  ];
}
