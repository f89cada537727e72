/**
 * The oauth2 provider's flows (src/engine/providers/oauth2.ts holds its data and checks): oauth4webapi does the
 * protocol (discovery, client authentication, response validation); our `send()` is its customFetch, so retries,
 * timeouts and redaction work the same as for the vendor presets. A module of its own so that oauth4webapi loads
 * only when a token is actually requested, never on a cached `hpauth token`.
 */
import * as oauth from "oauth4webapi";
import { HpauthError } from "../errors.js";
import { type HttpContext, type SendOptions, send } from "../http.js";
import { bodyExcerpt } from "../redact.js";
import { knowing } from "./common.js";
import { isLoopback } from "./oauth2.js";
import type { FlowContext, ResolvedProfile, TokenSet } from "./types.js";

const discovered = new Map<string, oauth.AuthorizationServer>();

function customFetch(
  http: HttpContext,
  what: string,
  once?: SendOptions["once"],
): (url: string, init: RequestInit) => Promise<Response> {
  return async (url, init) => {
    const res = await send(http, new URL(url), init, { what, expectJson: true, ...(once ? { once } : {}) });
    return res.toResponse();
  };
}

/** `once`: the request must not be sent twice (a refresh, a code exchange); see http.ts. */
function requestOptions(http: HttpContext, what: string, url: string, once?: SendOptions["once"]) {
  return {
    [oauth.customFetch]: customFetch(http, what, once),
    // http:// is accepted only for loopback (validateProfile refuses it elsewhere): the emulator, local test servers.
    ...(isLoopback(new URL(url)) ? { [oauth.allowInsecureRequests]: true } : {}),
    ...(http.signal ? { signal: http.signal } : {}),
  };
}

async function authorizationServer(ctx: FlowContext): Promise<oauth.AuthorizationServer> {
  const p = ctx.profile;
  if (!p.issuer) {
    return {
      issuer: p.tokenUrl ?? "",
      token_endpoint: p.tokenUrl ?? "",
      ...(p.authorizationUrl ? { authorization_endpoint: p.authorizationUrl } : {}),
    };
  }
  const cached = discovered.get(p.issuer);
  if (cached) return withOverrides(cached, p);
  const issuer = new URL(p.issuer);
  let as: oauth.AuthorizationServer | undefined;
  let lastError: unknown;
  // OpenID discovery first (most servers), RFC 8414 second.
  for (const algorithm of ["oidc", "oauth2"] as const) {
    try {
      const res = await oauth.discoveryRequest(issuer, {
        algorithm,
        ...requestOptions(ctx.http, "discovery", p.issuer),
      });
      as = await oauth.processDiscoveryResponse(issuer, res);
      break;
    } catch (e) {
      if (e instanceof HpauthError && e.category !== "network") throw e;
      lastError = e;
    }
  }
  if (!as) {
    if (lastError instanceof HpauthError) throw lastError;
    throw new HpauthError(
      "INVALID_RESPONSE",
      `Discovery failed for issuer ${issuer.origin}: ${describe(lastError, ctx.http)}`,
      {
        provider: p.provider,
        profile: p.name,
        hint: "Check `issuer`, or set tokenUrl (and authorizationUrl) explicitly.",
        cause: lastError,
      },
    );
  }
  discovered.set(p.issuer, as);
  return withOverrides(as, p);
}

function withOverrides(as: oauth.AuthorizationServer, p: ResolvedProfile): oauth.AuthorizationServer {
  return {
    ...as,
    ...(p.tokenUrl ? { token_endpoint: p.tokenUrl } : {}),
    ...(p.authorizationUrl ? { authorization_endpoint: p.authorizationUrl } : {}),
  };
}

function describe(e: unknown, http: HttpContext): string {
  if (e instanceof Error) return bodyExcerpt(e.message, http.secrets(), 200);
  return "unknown error";
}

async function clientAuth(ctx: FlowContext): Promise<oauth.ClientAuth> {
  switch (ctx.profile.clientAuth) {
    case "client_secret_post":
      return oauth.ClientSecretPost(await ctx.clientSecret());
    case "client_secret_basic":
      return oauth.ClientSecretBasic(await ctx.clientSecret());
    default:
      return oauth.None();
  }
}

/**
 * Whether client_secret_basic's form-encoding (RFC 6749 §2.3.1, which oauth4webapi applies, `-` `.` `_` `~`
 * included) changes the client id or secret. Many servers base64-decode the header and never form-decode it
 * (oauth2-server, spring-security-oauth #1826), so such credentials are refused there while `client_secret_post`
 * works. Returns what to tell the user, naming the id's characters but never the secret's.
 */
export function basicEncodingNote(clientId: string, secret: string): string | undefined {
  const changed = (v: string) => [...new Set([...v].filter((c) => formEncode(c) !== c))];
  const idChars = changed(clientId);
  const secretChanged = changed(secret).length > 0;
  if (idChars.length === 0 && !secretChanged) return undefined;
  const parts = [
    ...(idChars.length > 0 ? [`the client id contains ${idChars.map((c) => `"${c}"`).join(" ")}`] : []),
    ...(secretChanged ? ["the client secret contains characters"] : []),
  ];
  return `client_secret_basic form-encodes the client id and secret before base64 (RFC 6749 §2.3.1) and ${parts.join(" and ")} that this encoding changes; many servers never decode it. Set \`client_auth = "client_secret_post"\` in the profile (or --client-auth client_secret_post), or check the client id and secret.`;
}

function formEncode(c: string): string {
  return encodeURIComponent(c).replace(/[-_.!~*'()]/g, (x) => `%${x.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** oauth4webapi's errors → ours, with server text redacted. `basicNote`: see basicEncodingNote. */
function mapError(e: unknown, ctx: FlowContext, kind: "login" | "refresh", what: string, basicNote?: string): never {
  if (e instanceof HpauthError) throw e;
  const p = ctx.profile;
  const common = { provider: p.provider, profile: p.name, cause: e };
  const clientHint = basicNote ?? "Check the client id, client secret and client_auth.";
  if (e instanceof oauth.ResponseBodyError) {
    // Typed as strings, but they are the server's JSON: `"error_description": 42` must not throw a TypeError.
    const description = typeof e.error_description === "string" ? e.error_description : undefined;
    const desc = description ? `: ${bodyExcerpt(description, ctx.http.secrets(), 200)}` : "";
    const msg = `${what} refused: HTTP ${e.status} ${e.error}${desc}`;
    const opts = { ...common, status: e.status, oauthError: String(e.error).slice(0, 64) };
    if (e.error === "invalid_client" || e.error === "unauthorized_client") {
      throw new HpauthError("INVALID_CLIENT", msg, {
        ...opts,
        hint: e.status === 401 ? clientHint : "Check the client id, client secret and client_auth.",
      });
    }
    if (e.error === "invalid_grant") {
      throw new HpauthError("INVALID_GRANT", msg, {
        ...opts,
        hint:
          kind === "refresh"
            ? "The refresh token is no longer accepted; a new login is needed."
            : "Check the credentials.",
      });
    }
    if (e.error === "access_denied") throw new HpauthError("ACCESS_DENIED", msg, opts);
    throw new HpauthError(e.status === 400 || e.status === 401 ? "UNAUTHORIZED" : "INVALID_RESPONSE", msg, opts);
  }
  if (e instanceof oauth.WWWAuthenticateChallengeError) {
    throw new HpauthError("INVALID_CLIENT", `${what} refused: HTTP ${e.status} (WWW-Authenticate challenge)`, {
      ...common,
      status: e.status,
      hint: clientHint,
    });
  }
  // A refusal without an OAuth error body (a bare 401/403, an HTML page): oauth4webapi hands us the Response.
  const res = e instanceof oauth.OperationProcessingError ? e.cause : undefined;
  if (res instanceof Response && (res.status === 401 || res.status === 403)) {
    throw new HpauthError(
      kind === "refresh" && res.status === 403 ? "INVALID_GRANT" : "INVALID_CLIENT",
      `${what} refused: HTTP ${res.status} (no OAuth error in the answer)`,
      { ...common, status: res.status, hint: clientHint },
    );
  }
  throw new HpauthError("INVALID_RESPONSE", `${what}: ${describe(e, ctx.http)}`, {
    ...common,
    ...(res instanceof Response ? { status: res.status } : {}),
  });
}

/** The client_secret_basic note for this profile, when its credentials are ones that encoding changes. */
async function basicNoteFor(ctx: FlowContext): Promise<string | undefined> {
  if (ctx.profile.clientAuth !== "client_secret_basic") return undefined;
  return basicEncodingNote(ctx.profile.clientId ?? "", await ctx.clientSecret());
}

function toTokenSet(r: oauth.TokenEndpointResponse): TokenSet {
  const out: TokenSet = { accessToken: r.access_token };
  if (typeof r.expires_in === "number" && r.expires_in > 0) out.expiresIn = r.expires_in;
  if (r.refresh_token) out.refreshToken = r.refresh_token;
  if (r.scope) out.scope = r.scope;
  return out;
}

export async function login(flow: FlowContext): Promise<TokenSet> {
  // Reassigned once the code is known, so that mapError's redaction knows it too.
  let ctx = flow;
  const p = ctx.profile;
  const what = `token request (${p.grantType})`;
  const as = await authorizationServer(ctx);
  const client: oauth.Client = { client_id: p.clientId ?? "" };
  const auth = await clientAuth(ctx);
  const basicNote = await basicNoteFor(ctx);
  // A code exchange is sent once (the code is single use and its answer may be the token); the others may repeat.
  const opts = requestOptions(
    ctx.http,
    what,
    as.token_endpoint ?? "",
    p.grantType === "authorization_code" ? "code" : undefined,
  );
  const params = new URLSearchParams(p.tokenParams);
  if (p.scope) params.set("scope", p.scope);
  try {
    if (p.grantType === "password") {
      params.set("username", p.username ?? "");
      params.set("password", await ctx.password());
      const res = await oauth.genericTokenEndpointRequest(as, client, auth, "password", params, opts);
      return toTokenSet(await oauth.processGenericTokenEndpointResponse(as, client, res));
    }
    if (p.grantType === "authorization_code") {
      if (!ctx.authorizer) {
        throw new HpauthError("LOGIN_REQUIRED", `Profile "${p.name}" needs a browser login`, {
          provider: p.provider,
          profile: p.name,
          hint: `Run \`hpauth login --profile ${p.name}\` in a browser-capable terminal.`,
        });
      }
      const authEndpoint = as.authorization_endpoint;
      if (!authEndpoint) {
        throw new HpauthError("CONFIG_INVALID", "authorizationUrl: the server metadata has no authorization_endpoint", {
          provider: p.provider,
          profile: p.name,
        });
      }
      const result = await ctx.authorizer({
        provider: p.provider,
        profile: p.name,
        authorizationUrl: ({ redirectUri, state, codeChallenge }) => {
          const u = new URL(authEndpoint);
          u.searchParams.set("client_id", p.clientId ?? "");
          u.searchParams.set("redirect_uri", redirectUri);
          u.searchParams.set("response_type", "code");
          if (p.scope) u.searchParams.set("scope", p.scope);
          // OIDC Core §11: a server ignores offline_access (no refresh token) unless consent is asked for.
          if (p.scope?.split(/\s+/).includes("offline_access")) u.searchParams.set("prompt", "consent");
          u.searchParams.set("state", state);
          if (codeChallenge) {
            u.searchParams.set("code_challenge", codeChallenge);
            u.searchParams.set("code_challenge_method", "S256");
          }
          return u;
        },
        ...(p.redirectUri ? { redirectUri: p.redirectUri } : {}),
        ...(p.callbackPort ? { callbackPort: p.callbackPort } : {}),
        pkce: p.pkce,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      ctx = { ...ctx, http: knowing(ctx.http, result.code, result.codeVerifier) };
      const codeParams = new URLSearchParams(p.tokenParams);
      codeParams.set("code", result.code);
      codeParams.set("redirect_uri", result.redirectUri);
      if (result.codeVerifier) codeParams.set("code_verifier", result.codeVerifier);
      // The authorizer already checked state; genericTokenEndpointRequest skips oauth4webapi's callback branding.
      const res = await oauth.genericTokenEndpointRequest(as, client, auth, "authorization_code", codeParams, opts);
      return toTokenSet(await oauth.processGenericTokenEndpointResponse(as, client, res));
    }
    const res = await oauth.clientCredentialsGrantRequest(as, client, auth, params, opts);
    return toTokenSet(await oauth.processClientCredentialsResponse(as, client, res));
  } catch (e) {
    mapError(e, ctx, "login", what, basicNote);
  }
}

export async function refresh(ctx: FlowContext, refreshToken: string): Promise<TokenSet> {
  const p = ctx.profile;
  const what = "token refresh";
  const as = await authorizationServer(ctx);
  const client: oauth.Client = { client_id: p.clientId ?? "" };
  const auth = await clientAuth(ctx);
  const basicNote = await basicNoteFor(ctx);
  try {
    const res = await oauth.refreshTokenGrantRequest(as, client, auth, refreshToken, {
      ...requestOptions(ctx.http, what, as.token_endpoint ?? "", "refresh"),
      additionalParameters: p.tokenParams,
    });
    return toTokenSet(await oauth.processRefreshTokenResponse(as, client, res));
  } catch (e) {
    mapError(e, ctx, "refresh", what, basicNote);
  }
}
