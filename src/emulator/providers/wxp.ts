/**
 * HP WXP Collaboration: a Keycloak password grant at `/auth/login` (form body, public client "WXP Collaboration"
 * named by `client_id` in the form or by HTTP Basic `client_id:` with any secret, as Keycloak accepts),
 * answering in Keycloak's shape with 300 s RS256 access tokens. The refresh grant is documented as NOT IMPLEMENTED,
 * so it is answered like any unsupported grant. The protected API (not in the seed, our choice):
 * `GET /api/v1/collaboration/rooms`. Seed 001.
 */
import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";
import type { Ctx, Env, Route } from "../context.js";
import { WXP_ROOMS } from "../data.js";
import { bearer, mediaType, NO_STORE, parseForm, sendJson } from "../http.js";
import { jwks, signJwt } from "../jwt.js";
import { uuid } from "../state.js";

const P = "wxp";
export const WXP_CLIENT_ID = "WXP Collaboration";
/** The seed's example value of `not-before-policy`. */
const NOT_BEFORE_POLICY = 1533920635;

/** Keycloak signs refresh tokens with a realm HMAC key; one per emulator start. */
const refreshKey = randomBytes(32);
const refreshKid = uuid();

async function login(ctx: Ctx) {
  const { state, config, keys } = ctx;
  const c = config.creds[P];
  // Keycloak reads form parameters only: any other body looks like a request without grant_type.
  const params =
    mediaType(ctx.req) === "application/x-www-form-urlencoded" ? parseForm(ctx.body) : new Map<string, string>();
  const grantType = params.get("grant_type");
  if (!grantType) {
    return ctx.refuse(
      "invalid_request",
      400,
      { error: "invalid_request", error_description: "Missing form parameter: grant_type" },
      NO_STORE,
    );
  }
  // Client authentication as Keycloak's ClientIdAndSecretAuthenticator does it (see keycloakClient below).
  const basic = keycloakBasic(ctx.req.headers.authorization);
  if (basic === "unparseable" && !params.has("client_id")) {
    // Keycloak answers a Basic challenge with no body when the header is unusable and the form names no client.
    ctx.refusal = "invalid_client";
    ctx.state.refuse(P, "invalid_client");
    ctx.res.writeHead(401, { "www-authenticate": 'Basic realm="wxp"', "content-length": "0", ...NO_STORE });
    ctx.res.end();
    return;
  }
  // The form's client_id wins over the header's, even when they disagree (Keycloak reads the header first, then
  // overwrites with the form parameter). For the public client no secret is checked, wherever it is sent.
  const clientId = params.get("client_id") ?? (typeof basic === "object" ? basic.id : undefined);
  if (clientId === undefined) {
    return ctx.refuse(
      "invalid_client",
      400,
      { error: "invalid_client", error_description: "Missing client_id parameter" },
      NO_STORE,
    );
  }
  if (clientId !== c.clientId) {
    return ctx.refuse(
      "invalid_client",
      401,
      { error: "invalid_client", error_description: "Invalid client or Invalid client credentials" },
      NO_STORE,
    );
  }
  if (grantType !== "password") {
    // refresh_token included: documented as NOT IMPLEMENTED.
    return ctx.refuse(
      "unsupported_grant_type",
      400,
      { error: "unsupported_grant_type", error_description: "Unsupported grant_type" },
      NO_STORE,
    );
  }
  if (params.get("username") !== c.username || params.get("password") !== c.password) {
    return ctx.refuse(
      "invalid_credentials",
      401,
      { error: "invalid_grant", error_description: "Invalid user credentials" },
      NO_STORE,
    );
  }
  state.count(P, "logins");
  const life = config.life[P].accessSeconds;
  const refreshLife = config.life[P].refreshSeconds;
  const grant = state.newGrant(P, c.clientId, c.username, "email profile");
  const sessionState = uuid();
  const iat = Math.floor(state.now() / 1000);
  const iss = `${config.baseUrls[P]}/auth/realms/wxp`;
  const sub = uuid();
  const access = await signJwt(
    keys[P],
    {
      exp: iat + life,
      iat,
      jti: uuid(),
      iss,
      aud: "account",
      sub,
      typ: "Bearer",
      azp: c.clientId,
      session_state: sessionState,
      scope: "email profile",
      email_verified: true,
      preferred_username: c.username,
      email: c.username,
    },
    { typ: "JWT" },
  );
  const refresh = await new SignJWT({
    exp: iat + refreshLife,
    iat,
    jti: uuid(),
    iss,
    aud: iss,
    sub,
    typ: "Refresh",
    azp: c.clientId,
    session_state: sessionState,
    scope: "email profile",
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: refreshKid })
    .sign(refreshKey);
  state.addAccess(access, grant, life);
  state.addRefresh(refresh, grant, refreshLife);
  state.count(P, "tokensIssued");
  sendJson(
    ctx.res,
    200,
    {
      access_token: access,
      expires_in: life,
      refresh_expires_in: refreshLife,
      refresh_token: refresh,
      token_type: "bearer",
      "not-before-policy": NOT_BEFORE_POLICY,
      session_state: sessionState,
      scope: "email profile",
    },
    NO_STORE,
  );
}

/**
 * Keycloak's `BasicAuthHelper.RFC6749.parseHeader` (keycloak/keycloak, common/…/util/BasicAuthHelper.java): scheme
 * `Basic` case-insensitively in the first five characters, strict base64 after the sixth, split at the first `:`;
 * each half is URL-decoded only when it contains a percent-escape of `%2x`, `%3x`, `%40` or `%21` (so a raw
 * `WXP Collaboration:` works, `WXP%20Collaboration:` works, `WXP+Collaboration:` does not), and kept raw when
 * that decoding fails. Undefined without the header; "unparseable" for anything else it refuses.
 */
function keycloakBasic(header: string | undefined): { id: string; secret: string } | "unparseable" | undefined {
  if (header === undefined) return undefined;
  if (header.length < 6 || header.slice(0, 5).toLowerCase() !== "basic") return "unparseable";
  const b64 = header.slice(6);
  // java.util.Base64's basic decoder: the standard alphabet, padding optional, no whitespace.
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.replace(/=+$/, "").length % 4 === 1) return "unparseable";
  const value = Buffer.from(b64, "base64").toString("utf8");
  const colon = value.indexOf(":");
  if (colon < 0) return "unparseable";
  const raw = { id: value.slice(0, colon), secret: value.slice(colon + 1) };
  const encoded = (s: string) => /%(?:2[0-9A-Fa-f]|3[0-9A-Fa-f]|40|21)/.test(s);
  try {
    const decode = (s: string) => (encoded(s) ? decodeURIComponent(s.replace(/\+/g, " ")) : s);
    return { id: decode(raw.id), secret: decode(raw.secret) };
  } catch {
    return raw;
  }
}

function rooms(ctx: Ctx) {
  const token = bearer(ctx.req);
  const check = ctx.state.checkAccess(P, token);
  if (!check.ok) {
    const reason = !token ? "missing_token" : check.reason === "unknown" ? "invalid_token" : `${check.reason}_token`;
    const description = !token ? "Missing bearer token" : "Token is not active";
    return ctx.refuse(
      reason,
      401,
      { error: "invalid_token", error_description: description },
      {
        "www-authenticate": `Bearer realm="wxp", error="invalid_token", error_description="${description}"`,
      },
    );
  }
  sendJson(ctx.res, 200, { rooms: WXP_ROOMS, total: WXP_ROOMS.length });
}

export function wxpRoutes(env: Env): Route[] {
  const keySet = () => jwks(env.keys[P]);
  return [
    { method: "POST", path: "/auth/login", endpoints: ["login", "token"], counts: "tokenRequests", handle: login },
    { method: "GET", path: "/.well-known/jwks.json", endpoints: [], handle: (ctx) => sendJson(ctx.res, 200, keySet()) },
    {
      method: "GET",
      path: "/auth/realms/wxp/protocol/openid-connect/certs",
      endpoints: [],
      handle: (ctx) => sendJson(ctx.res, 200, keySet()),
    },
    { method: "GET", path: "/api/v1/collaboration/rooms", endpoints: ["api"], counts: "apiCalls", handle: rooms },
  ];
}
