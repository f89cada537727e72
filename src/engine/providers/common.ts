/**
 * Shared pieces of the vendor flows, in the oauth4webapi style: `xxxRequest()` sends and returns the buffered
 * response, `processTokenResponse()` judges it. Hand-written rather than oauth4webapi's own requests because the
 * vendors deviate from RFC 6749 in ways it rightly refuses: TechPulse wants the secret in the body for the code
 * exchange but Basic for refresh, Aruba wants JSON bodies and a query-string refresh, WXP answers lower-case
 * `bearer` with a `not-before-policy` field, and HPE's Basic header is raw `id:secret` (curl -u), not the RFC's
 * form-encoded variant. The standard `oauth2` provider uses oauth4webapi throughout.
 */
import { HpauthError } from "../errors.js";
import { type BufferedResponse, describeBody, type HttpContext, type SendOptions, send } from "../http.js";
import type { FlowContext, TokenSet } from "./types.js";

/** `Basic base64(id:secret)` as curl -u and python-requests send it (raw, not form-encoded first). */
export function basicAuth(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`, "utf8").toString("base64")}`;
}

/**
 * The same context, its redaction also knowing `values`: secrets a flow learns on the way (an authorization code,
 * Aruba's session cookie and CSRF value, a PKCE verifier) that a server may echo into the error body of the next
 * request. The manager knows only the client's secrets and the tokens.
 */
export function knowing(http: HttpContext, ...values: Array<string | undefined>): HttpContext {
  const extra = values.filter((v): v is string => typeof v === "string" && v !== "");
  return { ...http, secrets: () => [...http.secrets(), ...extra] };
}

export function formPost(
  http: HttpContext,
  url: string | URL,
  body: Record<string, string | undefined>,
  headers: Record<string, string>,
  what: string,
  extra: Pick<SendOptions, "once" | "lostHint"> = {},
): Promise<BufferedResponse> {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(body)) if (v !== undefined) form.set(k, v);
  return send(
    http,
    new URL(url),
    {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json", ...headers },
      body: form.toString(),
    },
    { what, expectJson: true, ...extra },
  );
}

/**
 * The HPE SSO's client-credentials grant (GreenLake DSCC and the GreenLake platform: the same PingFederate): the
 * client's id and secret in the form body (`client_secret_post`, the default) or as a Basic header.
 */
export async function clientCredentialsGrant(ctx: FlowContext, what: string): Promise<TokenSet> {
  const p = ctx.profile;
  const secret = await ctx.clientSecret();
  const basic = p.clientAuth === "client_secret_basic";
  const res = await formPost(
    ctx.http,
    p.tokenUrl ?? "",
    {
      grant_type: "client_credentials",
      ...(basic ? {} : { client_id: p.clientId, client_secret: secret }),
      ...p.tokenParams,
    },
    basic ? { authorization: basicAuth(p.clientId ?? "", secret) } : {},
    what,
  );
  return processTokenResponse(ctx.http, res, "login", what);
}

const TOKEN_FIELDS = new Set(["access_token", "refresh_token", "id_token", "token_type", "expires_in", "scope"]);
/** Extras that could be credentials are never kept. */
const SECRETISH = /token|secret|password|code|session|cookie/i;

/**
 * Judges a token endpoint answer. `kind` says what was asked (a refresh's 400 means the grant is dead; a
 * login's means the credentials are wrong) so the error code and hint fit.
 */
export function processTokenResponse(
  http: HttpContext,
  res: BufferedResponse,
  kind: "login" | "refresh" | "code",
  what: string,
): TokenSet {
  const json = res.json as Record<string, unknown> | undefined;
  const common = { provider: http.provider, profile: http.profile, status: res.status };
  if (res.status >= 200 && res.status < 300) {
    if (!json || typeof json !== "object" || Array.isArray(json)) {
      throw new HpauthError("INVALID_RESPONSE", `${what}: the token endpoint answered without a JSON object`, common);
    }
    const accessToken = json.access_token;
    if (typeof accessToken !== "string" || accessToken === "") {
      throw new HpauthError("INVALID_RESPONSE", `${what}: the token response has no access_token`, common);
    }
    const tokenType = json.token_type;
    // WXP and Aruba say "bearer"; we only ever use the value as a Bearer token, so anything else is refused.
    if (tokenType !== undefined && (typeof tokenType !== "string" || tokenType.toLowerCase() !== "bearer")) {
      throw new HpauthError(
        "INVALID_RESPONSE",
        `${what}: unsupported token_type "${String(tokenType).slice(0, 20)}" (only Bearer is supported)`,
        common,
      );
    }
    const rawExpires = json.expires_in;
    const expiresIn =
      typeof rawExpires === "number"
        ? rawExpires
        : typeof rawExpires === "string" && /^\d+$/.test(rawExpires)
          ? Number(rawExpires)
          : undefined;
    const meta: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(json)) {
      if (TOKEN_FIELDS.has(k) || SECRETISH.test(k)) continue;
      if (v === null || ["string", "number", "boolean"].includes(typeof v)) meta[k] = v;
    }
    // WXP's documented schema says not_before_policy, its sample not-before-policy: keep one spelling.
    if ("not-before-policy" in meta && !("not_before_policy" in meta)) {
      meta.not_before_policy = meta["not-before-policy"];
      delete meta["not-before-policy"];
    }
    const out: TokenSet = { accessToken };
    if (expiresIn !== undefined && Number.isFinite(expiresIn) && expiresIn > 0) out.expiresIn = expiresIn;
    if (typeof json.refresh_token === "string" && json.refresh_token !== "") out.refreshToken = json.refresh_token;
    if (typeof json.scope === "string") out.scope = json.scope;
    if (Object.keys(meta).length > 0) out.meta = meta;
    return out;
  }
  throw tokenError(http, res, kind, what);
}

export function tokenError(
  http: HttpContext,
  res: BufferedResponse,
  kind: "login" | "refresh" | "code",
  what: string,
): HpauthError {
  const json = (res.json && typeof res.json === "object" ? res.json : {}) as Record<string, unknown>;
  const oauthError = typeof json.error === "string" ? json.error.slice(0, 64) : undefined;
  const detail = describeBody(res.text, http.secrets(), 200);
  const common = {
    provider: http.provider,
    profile: http.profile,
    status: res.status,
    ...(oauthError ? { oauthError } : {}),
  };
  const message = `${what} refused: HTTP ${res.status}${detail ? `: ${detail}` : ""}`;
  const relogin =
    kind === "refresh"
      ? "The refresh token is no longer accepted; a new login is needed."
      : kind === "code"
        ? "The authorization code was refused (expired, already used, or issued for another redirect URI): log in again."
        : "Check the username and password.";
  // A 401 at the token endpoint outside a refresh is about the client (Identity answers `unauthorized`,
  // others nothing at all), unless the server says the grant (user credentials, code) is what failed.
  const clientRefused =
    oauthError === "invalid_client" ||
    (res.status === 401 && kind !== "refresh" && oauthError !== "invalid_grant" && oauthError !== "access_denied");
  if (clientRefused) {
    return new HpauthError("INVALID_CLIENT", message, {
      ...common,
      hint: "Check the client id and client secret (they may have expired or been reset).",
    });
  }
  if (oauthError === "access_denied") return new HpauthError("ACCESS_DENIED", message, common);
  if (oauthError === "invalid_grant" || res.status === 400 || res.status === 401 || res.status === 403) {
    return new HpauthError("INVALID_GRANT", message, { ...common, hint: relogin });
  }
  return new HpauthError("UNAUTHORIZED", message, common);
}
