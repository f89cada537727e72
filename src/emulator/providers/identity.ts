/**
 * HPE Identity Service (Entitlement Engine): client_credentials with HTTP Basic at `/services/oauth/token`, values as
 * form body, raw body, URL parameters or multipart; a Spring-Security-OAuth2-shaped answer with the extra fields
 * (cc_id, ga_id, sc_id, eu_id, domain, zip_authorities, jti); the warranty-check API. Seed 004.
 */
import { gzipSync } from "node:zlib";
import type { Ctx, Env, Route } from "../context.js";
import { entitlement } from "../data.js";
import {
  basicAuth,
  bearer,
  jsonParams,
  mediaType,
  NO_STORE,
  type Params,
  parseForm,
  parseJsonObject,
  parseMultipart,
  parseQuery,
  sendJson,
} from "../http.js";
import { jwks, signJwt } from "../jwt.js";
import { uuid } from "../state.js";

const P = "hpe-identity";
export const IDENTITY_AUTHORITIES = [
  "ROLE_CLIENT",
  "ENTITLEMENT_READ",
  "WARRANTY_CHECK",
  "CONTRACT_READ",
  "SUPPORT_CASE_READ",
];

/** The values may arrive in the body (form, multipart, raw) or as URL parameters; the body wins per key. */
async function tokenParams(ctx: Ctx): Promise<Params> {
  const merged = parseQuery(ctx.url);
  let fromBody: Params = new Map();
  const type = mediaType(ctx.req);
  if (type === "multipart/form-data") fromBody = (await parseMultipart(ctx.req, ctx.body)) ?? new Map();
  else if (type === "application/json") fromBody = jsonParams(parseJsonObject(ctx.body));
  else if (ctx.body.length > 0) fromBody = parseForm(ctx.body); // form, or a "raw" text body in the same shape
  for (const [k, v] of fromBody) merged.set(k, v);
  return merged;
}

const WWW_BASIC = { "www-authenticate": 'Basic realm="oauth2/client"' };

async function token(ctx: Ctx) {
  const { state, config, keys } = ctx;
  const c = config.creds[P];
  const basic = basicAuth(ctx.req);
  if (!basic) {
    return ctx.refuse(
      "missing_client_auth",
      401,
      {
        error: "unauthorized",
        error_description: "Full authentication is required to access this resource",
      },
      { ...NO_STORE, ...WWW_BASIC },
    );
  }
  if (basic === "malformed" || basic.id !== c.clientId || basic.secret !== c.clientSecret) {
    return ctx.refuse(
      "invalid_client",
      401,
      { error: "unauthorized", error_description: "Bad credentials" },
      {
        ...NO_STORE,
        ...WWW_BASIC,
      },
    );
  }
  const params = await tokenParams(ctx);
  const grantType = params.get("grant_type");
  if (!grantType) {
    return ctx.refuse(
      "invalid_request",
      400,
      { error: "invalid_request", error_description: "Missing grant type" },
      NO_STORE,
    );
  }
  const bodyId = params.get("client_id");
  if (bodyId !== undefined && bodyId !== basic.id) {
    return ctx.refuse(
      "client_id_mismatch",
      401,
      {
        error: "invalid_client",
        error_description: "Given client ID does not match authenticated client",
      },
      NO_STORE,
    );
  }
  if (grantType !== "client_credentials") {
    return ctx.refuse(
      "unsupported_grant_type",
      400,
      {
        error: "unsupported_grant_type",
        error_description: `Unsupported grant type: ${grantType.slice(0, 40)}`,
      },
      NO_STORE,
    );
  }
  const life = config.life[P].accessSeconds;
  const grant = state.newGrant(P, basic.id, basic.id, "read write");
  const extra = {
    cc_id: basic.id,
    ga_id: uuid(),
    sc_id: uuid(),
    eu_id: uuid(),
    domain: "SA",
    zip_authorities: gzipSync(Buffer.from(JSON.stringify(IDENTITY_AUTHORITIES))).toString("base64"),
  };
  const jti = uuid();
  const exp = Math.floor(state.now() / 1000) + life;
  const jwt = await signJwt(
    keys[P],
    {
      scope: ["read", "write"],
      exp,
      authorities: IDENTITY_AUTHORITIES,
      jti,
      client_id: basic.id,
      ...extra,
    },
    { typ: "JWT" },
  );
  state.addAccess(jwt, grant, life);
  state.count(P, "tokensIssued");
  sendJson(
    ctx.res,
    200,
    {
      access_token: jwt,
      token_type: "bearer",
      expires_in: life,
      scope: "read write",
      ...extra,
      jti,
    },
    NO_STORE,
  );
}

function rateHeaders(ctx: Ctx, clientId: string): Record<string, number> {
  const now = ctx.state.now();
  const usage = ctx.state.bag<{ day: number; n: number }>("identity-rate");
  const day = Math.floor(now / 86_400_000);
  const u = usage.get(clientId);
  const cur = u && u.day === day ? u : { day, n: 0 };
  cur.n++;
  usage.set(clientId, cur);
  const left = (limit: number) => Math.max(0, limit - cur.n);
  return {
    "x-ratelimit-limit-day": 100000,
    "x-ratelimit-remaining-day": left(100000),
    "x-ratelimit-limit-hour": 10000,
    "x-ratelimit-remaining-hour": left(10000),
    "x-ratelimit-limit-minute": 600,
    "x-ratelimit-remaining-minute": left(600),
    "x-ratelimit-limit-second": 20,
    "x-ratelimit-remaining-second": 19,
    "ratelimit-limit": 600,
    "ratelimit-remaining": left(600),
    "ratelimit-reset": 60 - Math.floor((now / 1000) % 60),
  };
}

const WARRANTY = /^\/support\/entitlement\/v1\/warrantyCheck\/([^/]+)\/([^/]+)\/?$/;

function warrantyCheck(ctx: Ctx) {
  const token = bearer(ctx.req);
  const www = { "www-authenticate": 'Bearer realm="oauth2-resource", error="invalid_token"' };
  if (!token) {
    return ctx.refuse(
      "missing_token",
      401,
      {
        error: "unauthorized",
        error_description: "Full authentication is required to access this resource",
      },
      { "www-authenticate": 'Bearer realm="oauth2-resource"' },
    );
  }
  const check = ctx.state.checkAccess(P, token);
  if (!check.ok) {
    // The real service echoes the whole token in these bodies: reproduced so clients' redaction gets tested.
    if (check.reason === "expired") {
      return ctx.refuse(
        "expired_token",
        401,
        { error: "invalid_token", error_description: `Access token expired: ${token}` },
        www,
      );
    }
    if (check.reason === "revoked") {
      return ctx.refuse(
        "revoked_token",
        401,
        { error: "invalid_token", error_description: `Invalid access token: ${token}` },
        www,
      );
    }
    return ctx.refuse(
      "invalid_token",
      401,
      { error: "invalid_token", error_description: "Cannot convert access token to JSON" },
      www,
    );
  }
  const m = WARRANTY.exec(ctx.url.pathname)!;
  const cc = ctx.url.searchParams.get("cc");
  if (!cc) {
    return ctx.refuse("invalid_request", 400, {
      status: 400,
      error: "Bad Request",
      message: "Required request parameter 'cc' for method parameter type String is not present",
      path: ctx.url.pathname,
    });
  }
  const dec = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const hsl = ctx.url.searchParams.get("hsl") !== "false";
  sendJson(ctx.res, 200, entitlement(dec(m[1]!), dec(m[2]!), cc, hsl), rateHeaders(ctx, check.grant.clientId));
}

export function identityRoutes(env: Env): Route[] {
  const keySet = () => jwks(env.keys[P]);
  return [
    { method: "POST", path: "/services/oauth/token", endpoints: ["token"], counts: "tokenRequests", handle: token },
    { method: "GET", path: "/.well-known/jwks.json", endpoints: [], handle: (ctx) => sendJson(ctx.res, 200, keySet()) },
    {
      method: "GET",
      path: "/services/oauth/token_keys",
      endpoints: [],
      handle: (ctx) => sendJson(ctx.res, 200, keySet()),
    },
    { method: "GET", path: WARRANTY, endpoints: ["api"], counts: "apiCalls", handle: warrantyCheck },
  ];
}
