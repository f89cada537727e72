/**
 * The contracts between the parts: profiles, tokens as the engine hands them out, and the hook
 * through which an interactive (browser) login plugs into the engine. See docs/ARCHITECTURE.md.
 */

export const PROVIDER_IDS = [
  "techpulse",
  "wxp",
  "greenlake",
  "aruba-central",
  "hpe-identity",
  "greenlake-platform",
  "new-central",
  "oauth2",
] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

/**
 * A profile as written in a config file, given as flags (`--client-id`) or as environment variables
 * (`HPAUTH_CLIENT_ID`). All optional here; validation against the provider says what is missing.
 * A secret may be given inline, by the name of an environment variable holding it, or by a command
 * whose stdout is the secret (password managers): `clientSecret` / `clientSecretEnv` / `clientSecretCommand`.
 */
export interface ProfileConfig {
  provider?: ProviderId;
  /** Region or cluster by name: techpulse `us`|`eu`; aruba-central `US-1`…`UAE-NORTH1`; greenlake API region `eu1`|`jp1`|`us1`. */
  region?: string;
  /** Overrides the identity service's origin (emulator, proxy, test tenant). Documented paths are appended unchanged. */
  baseUrl?: string;
  /** Overrides the protected API's origin where it differs from the identity service (GreenLake DSCC). Defaults to baseUrl. */
  apiBaseUrl?: string;
  /** oauth2 provider: explicit endpoints (or `issuer` for RFC 8414 discovery). */
  issuer?: string;
  tokenUrl?: string;
  authorizationUrl?: string;
  clientId?: string;
  clientSecret?: string;
  clientSecretEnv?: string;
  clientSecretCommand?: string;
  username?: string;
  password?: string;
  passwordEnv?: string;
  passwordCommand?: string;
  /** Aruba Central customer id. */
  customerId?: string;
  /** Registered redirect URI for browser logins (techpulse, oauth2 authorization_code). */
  redirectUri?: string;
  scope?: string;
  /** oauth2 provider: which grant to use. */
  grantType?: "client_credentials" | "password" | "authorization_code";
  /** Client authentication at the token endpoint (greenlake: post by default, basic supported; oauth2: any). */
  clientAuth?: "client_secret_basic" | "client_secret_post" | "none";
  /** oauth2 authorization_code: use PKCE S256 (default true for oauth2). */
  pkce?: boolean;
  /** oauth2: extra parameters for the token request (e.g. `audience`). */
  tokenParams?: Record<string, string>;
  /** TechPulse: the date the client secret was created (YYYY-MM-DD); it expires 365 days later. */
  clientSecretCreatedAt?: string;
  /** Fixed loopback port for browser logins (for `ssh -L`). */
  callbackPort?: number;
  /**
   * HTTP proxy for this profile's identity and API requests (`http://host:port`), instead of HTTPS_PROXY /
   * HTTP_PROXY; NO_PROXY still applies. docs/network.md.
   */
  proxy?: string;
  /** PEM file of CA certificates to trust besides Node's and NODE_EXTRA_CA_CERTS (a private or TLS-inspecting CA). */
  caFile?: string;
  /**
   * greenlake-platform / new-central: the workspace the API client belongs to. Tokens are workspace-scoped: with it,
   * tokens come from the workspace's own issuer (`…/authorization/v2/oauth2/{workspaceId}/token`) and it is part of
   * the cache key.
   */
  workspaceId?: string;
  /**
   * greenlake-platform / new-central, MSP profiles: a tenant workspace. The profile's own (MSP) token is exchanged
   * for one scoped to this tenant (RFC 8693 token exchange); both are cached, each under its own key.
   */
  tenantWorkspaceId?: string;
  /** Not used by the engine: `hpauth proxy`'s allow-list rules for this profile (src/proxy/allow.ts). */
  proxyAllow?: string[];
}

/** A profile with a name, as loaded from a config file or assembled from flags and environment. */
export interface NamedProfile extends ProfileConfig {
  name: string;
}

/** What the engine hands out. */
export interface AccessToken {
  accessToken: string;
  /** Always "Bearer" (normalised: WXP and Aruba say "bearer"). */
  tokenType: "Bearer";
  /** When the engine stops trusting this token: min(expires_in, documented maximum, JWT exp). */
  expiresAt: Date;
  scope?: string;
  /** Where it came from this time: served from the store, refreshed, or a new login/grant. */
  source: "cache" | "refresh" | "login";
  /** Profile name and provider id. */
  profile: string;
  provider: ProviderId;
}

/**
 * Browser login hook (issue: interactive login). The engine builds the authorization URL; the authorizer
 * owns `state` (fresh, ≥128 bits, single use, compared in constant time), PKCE, the loopback listener or
 * paste-back, and returns the code with the exact redirect_uri it used (sent again in the code exchange).
 */
export interface AuthorizationRequest {
  provider: ProviderId;
  profile: string;
  /** Builds the provider's authorization URL for the given redirect URI, state and optional PKCE challenge. */
  authorizationUrl(params: { redirectUri: string; state: string; codeChallenge?: string }): URL;
  /** The registered redirect URI, when the profile fixes one; otherwise a loopback URI of the authorizer's choice. */
  redirectUri?: string;
  /** Fixed loopback port, if configured. */
  callbackPort?: number;
  /** Whether the provider takes PKCE S256. */
  pkce: boolean;
  signal?: AbortSignal;
}

export interface AuthorizationResult {
  code: string;
  redirectUri: string;
  codeVerifier?: string;
}

export type InteractiveAuthorizer = (request: AuthorizationRequest) => Promise<AuthorizationResult>;

/** Redacted, structured events for `--verbose` and library users' logs. Never carries a secret. */
export interface EngineEvent {
  type: string;
  profile?: string;
  provider?: ProviderId;
  message: string;
  [field: string]: unknown;
}
