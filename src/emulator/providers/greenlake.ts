/**
 * HPE GreenLake (DSCC): client_credentials at PingFederate's `/as/token.oauth2` (client_secret_post as in the curl
 * and PowerShell samples, or HTTP Basic as in the python sample), RS256 JWTs with the documented claims, a JWKS at
 * `/pf/JWKS` (PingFederate's path), and the DSCC API `GET /api/v1/storage-systems`. Seed 002.
 * Not DSCC: `/api/v1/echo` (any method), a test endpoint that says what reached it — method, path, query, headers
 * (credential values never echoed), the streamed body's size and SHA-256 — for testing proxies and clients.
 */
import { createHash } from "node:crypto";
import type { Ctx, Env, Route } from "../context.js";
import { DSCC_STORAGE_SYSTEMS } from "../data.js";
import { basicAuth, bearer, mediaType, NO_STORE, parseForm, sendJson } from "../http.js";
import { jwks, signJwt } from "../jwt.js";
import { hex, uuid } from "../state.js";
import { issueGlpToken } from "./glp.js";

const P = "greenlake";
const ISSUER = "https://sso.common.cloud.hpe.com";
/** DSCC's documented default page budget (per token, per minute of the emulator clock). */
const RATE_PER_MINUTE = 600;

function oauthError(ctx: Ctx, reason: string, status: number, error: string, description: string, basic = false) {
  ctx.refuse(
    reason,
    status,
    { error_description: description, error },
    {
      ...NO_STORE,
      ...(basic ? { "www-authenticate": 'Basic realm="PingFederate"' } : {}),
    },
  );
}

async function token(ctx: Ctx) {
  const { state, config, keys } = ctx;
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
  const basic = basicAuth(ctx.req);
  if (basic === "malformed")
    return oauthError(ctx, "invalid_client", 401, "invalid_client", "Invalid client or client credentials.", true);
  const bodyId = params.get("client_id");
  const bodySecret = params.get("client_secret");
  if (
    basic &&
    ((bodyId !== undefined && bodyId !== basic.id) || (bodySecret !== undefined && bodySecret !== basic.secret))
  ) {
    return oauthError(
      ctx,
      "invalid_request",
      400,
      "invalid_request",
      "Conflicting client credentials in header and body",
    );
  }
  const grantType = params.get("grant_type");
  if (!grantType) return oauthError(ctx, "invalid_request", 400, "invalid_request", "grant_type is required");
  if (grantType !== "client_credentials") {
    return oauthError(ctx, "unsupported_grant_type", 400, "unsupported_grant_type", "unsupported grant type");
  }
  const id = basic ? basic.id : bodyId;
  const secret = basic ? basic.secret : bodySecret;
  // The same PingFederate serves GreenLake platform API clients: their token is scoped to the client's workspace.
  const glp = config.creds["greenlake-platform"];
  if (id !== undefined && id === glp.clientId && secret === glp.clientSecret) {
    ctx.state.count("greenlake-platform", "tokenRequests");
    const issued = await issueGlpToken(ctx, {
      clientId: id,
      workspaceId: glp.workspaceId.replace(/-/g, "").toLowerCase(),
      issuer: ISSUER,
    });
    return sendJson(ctx.res, 200, issued, NO_STORE);
  }
  const c = config.creds[P];
  if (!id || secret === undefined || id !== c.clientId || secret !== c.clientSecret) {
    return oauthError(ctx, "invalid_client", 401, "invalid_client", "Invalid client or client credentials.", !!basic);
  }
  const life = config.life[P].accessSeconds;
  const grant = state.newGrant(P, id, c.username, "");
  const iat = Math.floor(state.now() / 1000);
  const jwt = await signJwt(
    keys[P],
    {
      client_id: id,
      iss: ISSUER,
      aud: "external_api",
      sub: c.username,
      user_ctx: hex(16),
      auth_source: "ccs_token_management",
      platform_customer_id: c.customerId,
      iat,
      application_instance_id: uuid(),
      exp: iat + life,
    },
    { "pi.atm": "dez0" },
  );
  state.addAccess(jwt, grant, life);
  state.count(P, "tokensIssued");
  sendJson(ctx.res, 200, { access_token: jwt, token_type: "Bearer", expires_in: life }, NO_STORE);
}

function glError(ctx: Ctx, reason: string, status: number, message: string) {
  ctx.refuse(
    reason,
    status,
    {
      httpStatusCode: status,
      errorCode: status === 401 ? "HPE_GL_ERROR_UNAUTHORIZED" : "HPE_GL_ERROR_BAD_REQUEST",
      message,
      debugId: uuid(),
    },
    { "www-authenticate": 'Bearer realm="DSCC"' },
  );
}

function storageSystems(ctx: Ctx) {
  const { state } = ctx;
  const token = bearer(ctx.req);
  if (!token) return glError(ctx, "missing_token", 401, "Missing Authorization header with a Bearer token");
  const check = state.checkAccess(P, token);
  if (!check.ok) {
    // As public GreenLake clients report: an expired token comes back as HPE_GL_ERROR with "signature has expired".
    if (check.reason === "expired")
      return glError(ctx, "expired_token", 401, "Jwt verification failed: signature has expired");
    if (check.reason === "revoked")
      return glError(ctx, "revoked_token", 401, "Jwt verification failed: token has been revoked");
    return glError(ctx, "invalid_token", 401, "Jwt verification failed: invalid token");
  }
  const offset = Math.max(0, Number.parseInt(ctx.url.searchParams.get("offset") ?? "0", 10) || 0);
  const limit = Math.min(1000, Math.max(1, Number.parseInt(ctx.url.searchParams.get("limit") ?? "50", 10) || 50));
  const items = DSCC_STORAGE_SYSTEMS.slice(offset, offset + limit);
  const minute = Math.floor(state.now() / 60_000);
  const usage = state.bag<{ minute: number; n: number }>("greenlake-rate");
  const u = usage.get(check.grant.clientId);
  const cur = u && u.minute === minute ? u : { minute, n: 0 };
  cur.n++;
  usage.set(check.grant.clientId, cur);
  const headers = {
    "ratelimit-limit": RATE_PER_MINUTE,
    "ratelimit-remaining": Math.max(0, RATE_PER_MINUTE - cur.n),
    "ratelimit-reset": 60 - Math.floor((state.now() / 1000) % 60),
  };
  if (cur.n > RATE_PER_MINUTE) {
    ctx.refuse(
      "rate_limited",
      429,
      {
        httpStatusCode: 429,
        errorCode: "HPE_GL_ERROR_TOO_MANY_REQUESTS",
        message: "Too many requests",
        debugId: uuid(),
      },
      { ...headers, "retry-after": headers["ratelimit-reset"] },
    );
    return;
  }
  sendJson(ctx.res, 200, { items, count: items.length, offset, total: DSCC_STORAGE_SYSTEMS.length }, headers);
}

/** Headers whose values are credentials: echoed as a verdict (`valid`/`invalid` token) or a count, never verbatim. */
function echoHeaders(ctx: Ctx): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(ctx.req.headersDistinct)) {
    if (!values) continue;
    if (name === "authorization") {
      out[name] = values.map((v) => {
        const m = /^Bearer\s+(\S+)\s*$/i.exec(v);
        return m && ctx.state.checkAccess(P, m[1]).ok ? "Bearer (valid)" : "(not a valid token)";
      });
    } else if (name === "cookie" || name === "proxy-authorization") {
      out[name] = values.map((v) => `(${v.length} characters)`);
    } else out[name] = values;
  }
  return out;
}

/**
 * `ANY /api/v1/echo[?respond_bytes=N]`: needs a valid token like every protected API. Reads the body as a stream
 * (no size limit, nothing buffered) and answers `{method, path, query, headers, body: {bytes, sha256}}`; with
 * `respond_bytes`, answers that many bytes of application/octet-stream instead, streamed, after the upload ended.
 */
async function echo(ctx: Ctx) {
  const token = bearer(ctx.req);
  const check = token ? ctx.state.checkAccess(P, token) : undefined;
  if (!check?.ok) {
    ctx.req.resume();
    const reason = !token ? "missing_token" : check?.reason === "unknown" ? "invalid_token" : `${check?.reason}_token`;
    return glError(ctx, reason, 401, "Jwt verification failed: invalid token");
  }
  const hash = createHash("sha256");
  let bytes = 0;
  try {
    for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      hash.update(chunk);
    }
  } catch {
    return; // the client went away mid-upload
  }
  const respond = Number(ctx.url.searchParams.get("respond_bytes") ?? "");
  if (Number.isSafeInteger(respond) && respond >= 0 && ctx.url.searchParams.has("respond_bytes")) {
    ctx.res.writeHead(200, { "content-type": "application/octet-stream", "content-length": respond });
    const block = Buffer.alloc(Math.min(respond, 64 * 1024), 0x61);
    let left = respond;
    while (left > 0) {
      const n = Math.min(left, block.length);
      left -= n;
      if (!ctx.res.write(n === block.length ? block : block.subarray(0, n))) {
        await new Promise<void>((resolve) => {
          const done = () => {
            ctx.res.off("drain", done).off("close", done);
            resolve();
          };
          ctx.res.on("drain", done).on("close", done);
        });
        if (ctx.res.destroyed) return;
      }
    }
    ctx.res.end();
    return;
  }
  sendJson(ctx.res, 200, {
    method: ctx.req.method,
    path: ctx.url.pathname,
    query: ctx.url.search,
    headers: echoHeaders(ctx),
    body: { bytes, sha256: hash.digest("hex") },
  });
}

export function greenlakeRoutes(env: Env): Route[] {
  const keySet = () => jwks(env.keys[P]);
  return [
    { method: "POST", path: "/as/token.oauth2", endpoints: ["token"], counts: "tokenRequests", handle: token },
    { method: "GET", path: "/pf/JWKS", endpoints: [], handle: (ctx) => sendJson(ctx.res, 200, keySet()) },
    { method: "GET", path: "/.well-known/jwks.json", endpoints: [], handle: (ctx) => sendJson(ctx.res, 200, keySet()) },
    { method: "GET", path: "/api/v1/storage-systems", endpoints: ["api"], counts: "apiCalls", handle: storageSystems },
    ...["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"].map(
      (method): Route => ({
        method,
        path: "/api/v1/echo",
        endpoints: ["api"],
        counts: "apiCalls",
        streamsBody: true,
        handle: echo,
      }),
    ),
  ];
}
