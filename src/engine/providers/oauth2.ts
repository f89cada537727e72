/**
 * Any standard OAuth 2.0 authorization server: client_credentials, password, authorization_code (+PKCE S256) and
 * refresh_token, with client_secret_basic / client_secret_post / none, extra token parameters, and either
 * RFC 8414 / OpenID discovery from `issuer` or explicit endpoints. The protocol (oauth4webapi) is in
 * oauth2-flow.ts, loaded only when a grant or refresh happens.
 */
import type { ProviderDefinition } from "./types.js";

function isLoopback(url: URL): boolean {
  const h = url.hostname;
  return h === "localhost" || h === "[::1]" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
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
  // The flows, and oauth4webapi with them, load on the first grant or refresh (oauth2-flow.ts).
  async login(ctx) {
    return (await import("./oauth2-flow.js")).login(ctx);
  },
  async refresh(ctx, refreshToken) {
    return (await import("./oauth2-flow.js")).refresh(ctx, refreshToken);
  },
};

export { isLoopback };
