/**
 * Any standard OAuth 2.0 authorization server: client_credentials, password, authorization_code (+PKCE S256) and
 * refresh_token, with client_secret_basic / client_secret_post / none, extra token parameters, and either
 * RFC 8414 / OpenID discovery from `issuer` or explicit endpoints. oauth4webapi does the protocol (discovery,
 * client authentication, response validation); our `send()` is its customFetch, so retries, timeouts and
 * redaction work the same as for the vendor presets.
 */
import * as oauth from "oauth4webapi";
import { HpauthError } from "../errors.js";
import { type HttpContext, send } from "../http.js";
import { bodyExcerpt } from "../redact.js";
import type { FlowContext, ProviderDefinition, ResolvedProfile, TokenSet } from "./types.js";

const discovered = new Map<string, oauth.AuthorizationServer>();

function isLoopback(url: URL): boolean {
  const h = url.hostname;
  return h === "localhost" || h === "[::1]" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

function customFetch(http: HttpContext, what: string): (url: string, init: RequestInit) => Promise<Response> {
  return async (url, init) => {
    const res = await send(http, new URL(url), init, { what, expectJson: true });
    return res.toResponse();
  };
}

function requestOptions(http: HttpContext, what: string, url: string) {
  return {
    [oauth.customFetch]: customFetch(http, what),
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

/** oauth4webapi's errors → ours, with server text redacted. */
function mapError(e: unknown, ctx: FlowContext, kind: "login" | "refresh", what: string): never {
  if (e instanceof HpauthError) throw e;
  const p = ctx.profile;
  const common = { provider: p.provider, profile: p.name, cause: e };
  if (e instanceof oauth.ResponseBodyError) {
    const desc = e.error_description ? `: ${bodyExcerpt(e.error_description, ctx.http.secrets(), 200)}` : "";
    const msg = `${what} refused: HTTP ${e.status} ${e.error}${desc}`;
    const opts = { ...common, status: e.status, oauthError: e.error.slice(0, 64) };
    if (e.error === "invalid_client" || e.error === "unauthorized_client") {
      throw new HpauthError("INVALID_CLIENT", msg, {
        ...opts,
        hint: "Check the client id, client secret and clientAuth.",
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
      hint: "Check the client id, client secret and clientAuth.",
    });
  }
  throw new HpauthError("INVALID_RESPONSE", `${what}: ${describe(e, ctx.http)}`, common);
}

function toTokenSet(r: oauth.TokenEndpointResponse): TokenSet {
  const out: TokenSet = { accessToken: r.access_token };
  if (typeof r.expires_in === "number" && r.expires_in > 0) out.expiresIn = r.expires_in;
  if (r.refresh_token) out.refreshToken = r.refresh_token;
  if (r.scope) out.scope = r.scope;
  return out;
}

export const oauth2: ProviderDefinition = {
  id: "oauth2",
  title: "Standard OAuth 2.0 server",
  fields: [
    { name: "issuer", required: false, description: "issuer for RFC 8414 / OpenID discovery (or give tokenUrl)" },
    { name: "tokenUrl", required: false, description: "token endpoint (required without issuer)" },
    {
      name: "authorizationUrl",
      required: false,
      description: "authorization endpoint (authorization_code without issuer)",
    },
    { name: "grantType", required: false, description: "client_credentials (default), password or authorization_code" },
    { name: "clientId", required: true, description: "client id" },
    { name: "clientSecret", required: false, secret: true, description: "client secret (confidential clients)" },
    {
      name: "clientAuth",
      required: false,
      description: "client_secret_basic (default with a secret), client_secret_post or none",
    },
    { name: "username", required: false, description: "resource owner (password grant)" },
    { name: "password", required: false, secret: true, description: "resource owner's password (password grant)" },
    { name: "scope", required: false, description: "scope to request" },
    { name: "redirectUri", required: false, description: "registered redirect URI (authorization_code)" },
    { name: "pkce", required: false, description: "use PKCE S256 (default true)" },
    { name: "tokenParams", required: false, description: "extra token request parameters, e.g. audience" },
    { name: "apiBaseUrl", required: false, description: "API origin that relative paths resolve against" },
  ],
  defaultLifetimeSeconds: 300,
  supportsRefresh: () => true,
  interactive: (p) => p.grantType === "authorization_code",
  resolve(input, p, problems) {
    p.grantType ??= "client_credentials";
    if (!["client_credentials", "password", "authorization_code"].includes(p.grantType)) {
      problems.push(`grantType: expected client_credentials, password or authorization_code, got "${input.grantType}"`);
    }
    if (!p.issuer && !p.tokenUrl) problems.push("tokenUrl: required (or set issuer for discovery)");
    if (p.grantType === "authorization_code" && !p.issuer && !p.authorizationUrl) {
      problems.push("authorizationUrl: required for grantType authorization_code (or set issuer for discovery)");
    }
    if (p.grantType === "password") {
      if (!p.username) problems.push("username: required for grantType password");
      if (!p.password) problems.push("password: required for grantType password (or passwordEnv / passwordCommand)");
    }
    p.clientAuth ??= p.clientSecret ? "client_secret_basic" : "none";
    if (p.clientAuth !== "none" && !p.clientSecret) {
      problems.push(`clientSecret: required for clientAuth ${p.clientAuth} (or clientSecretEnv / clientSecretCommand)`);
    }
    if (p.grantType === "client_credentials" && p.clientAuth === "none") {
      problems.push(
        "clientSecret: client_credentials needs a confidential client (a secret and clientAuth basic or post)",
      );
    }
  },
  async login(ctx) {
    const p = ctx.profile;
    const what = `token request (${p.grantType})`;
    const as = await authorizationServer(ctx);
    const client: oauth.Client = { client_id: p.clientId ?? "" };
    const auth = await clientAuth(ctx);
    const opts = requestOptions(ctx.http, what, as.token_endpoint ?? "");
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
          throw new HpauthError(
            "CONFIG_INVALID",
            "authorizationUrl: the server metadata has no authorization_endpoint",
            {
              provider: p.provider,
              profile: p.name,
            },
          );
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
      mapError(e, ctx, "login", what);
    }
  },
  async refresh(ctx, refreshToken) {
    const p = ctx.profile;
    const what = "token refresh";
    const as = await authorizationServer(ctx);
    const client: oauth.Client = { client_id: p.clientId ?? "" };
    const auth = await clientAuth(ctx);
    try {
      const res = await oauth.refreshTokenGrantRequest(as, client, auth, refreshToken, {
        ...requestOptions(ctx.http, what, as.token_endpoint ?? ""),
        additionalParameters: p.tokenParams,
      });
      return toTokenSet(await oauth.processRefreshTokenResponse(as, client, res));
    } catch (e) {
      mapError(e, ctx, "refresh", what);
    }
  },
};

export { isLoopback };
