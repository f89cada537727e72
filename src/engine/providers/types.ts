/**
 * What a provider is: data (endpoints per region, grant, client auth, lifetimes, quirks) plus the few hooks its
 * flow needs. The TokenManager owns caching, locking, persistence, budgets and retries; a provider only says how
 * to get a token and how to refresh one. Adding a sixth provider is one new file plus one line in index.ts.
 */

import type { TokenRecord } from "../../stores/types.js";
import type { HttpContext } from "../http.js";
import type { SecretRef } from "../secrets.js";
import type { InteractiveAuthorizer, NamedProfile, ProviderId } from "../types.js";

export interface ProviderField {
  name: string;
  required: boolean;
  secret?: boolean;
  description: string;
}

/** A profile checked against its provider: endpoints computed, regions resolved, secrets as references. */
export interface ResolvedProfile {
  name: string;
  provider: ProviderId;
  region?: string;
  /** Identity service origin (or base with a path, for Identity's `/apigwext`), without trailing slash. */
  baseUrl: string;
  /** Where protected API calls go; relative paths in `TokenManager.fetch` resolve against it. */
  apiBaseUrl?: string;
  tokenUrl?: string;
  authorizationUrl?: string;
  issuer?: string;
  clientId?: string;
  username?: string;
  customerId?: string;
  redirectUri?: string;
  scope?: string;
  grantType?: "client_credentials" | "password" | "authorization_code";
  clientAuth?: "client_secret_basic" | "client_secret_post" | "none";
  pkce: boolean;
  tokenParams: Record<string, string>;
  clientSecretCreatedAt?: Date;
  callbackPort?: number;
  /** Validated proxy URL (docs/network.md); the environment's HTTP(S)_PROXY applies when absent. */
  proxy?: string;
  caFile?: string;
  /** greenlake-platform / new-central: the API client's workspace (hyphens removed), part of the cache key. */
  workspaceId?: string;
  /** greenlake-platform / new-central: the tenant workspace an MSP token is exchanged for (RFC 8693). */
  tenantWorkspaceId?: string;
  clientSecret?: SecretRef;
  password?: SecretRef;
}

/** What a token endpoint gave us, before the manager applies lifetimes and persists it. */
export interface TokenSet {
  accessToken: string;
  /** Seconds, as the server said (the manager caps it). */
  expiresIn?: number;
  refreshToken?: string;
  scope?: string;
  /** Non-secret extras worth keeping (Identity's cc_id, domain, zip_authorities; WXP's session_state). */
  meta?: Record<string, unknown>;
}

export interface FlowContext {
  profile: ResolvedProfile;
  http: HttpContext;
  clientSecret(): Promise<string>;
  password(): Promise<string>;
  authorizer?: InteractiveAuthorizer;
  signal?: AbortSignal;
  /**
   * Token exchange (greenlake-platform MSP profiles): the subject token, from the profile's own credential (cached,
   * renewed and locked under its own key by a second manager sharing the store). `rejected`: that token was refused
   * as a subject; a newer one is returned (one renewal, never a loop — the caller retries once).
   */
  subjectToken?(rejected?: string): Promise<string>;
  /**
   * Aruba: the login budget was claimed before the first request; a provider calls this when the server refused
   * the credentials before any token could have been created, so a typo does not cost 30 minutes.
   */
  releaseLoginBudget?(): Promise<void>;
}

export interface RegionEndpoints {
  baseUrl: string;
  apiBaseUrl?: string;
}

export interface ProviderDefinition {
  id: ProviderId;
  title: string;
  /** "region" or "cluster", for messages. */
  regionLabel?: string;
  /** Keyed by the canonical name; matched case-insensitively. */
  regions?: Record<string, RegionEndpoints>;
  defaultRegion?: string;
  /** Documented default identity origin when the provider has no regions (WXP, GreenLake SSO). */
  defaultBaseUrl?: string;
  /** Hint when baseUrl is required and missing. */
  baseUrlHint?: string;
  fields: ProviderField[];
  /** Never trust an access token past this, whatever expires_in says. */
  maxLifetimeSeconds?: number;
  /** Assumed when the server gives no expires_in and the token is no JWT. */
  defaultLifetimeSeconds: number;
  /**
   * A refresh token neither used nor renewed for this long stops working (Aruba: about 15 days unused; TechPulse:
   * 365 days, and each refresh rotates it). Counted from the later of its issue and its last use. `hpauth keepalive`
   * refreshes before then; absent → unknown (a JWT refresh token's own `exp` is used when it has one).
   */
  refreshTokenIdleSeconds?: number;
  /** Whether a refresh grant exists (WXP documents its refresh as NOT IMPLEMENTED). */
  supportsRefresh(p: ResolvedProfile): boolean;
  /** Whether a new grant needs a person at a browser. */
  interactive(p: ResolvedProfile): boolean;
  /** Aruba: at most one login per client id per window. */
  loginBudget?: { windowSeconds: number };
  /**
   * Token exchange: the profile whose token is the subject token (an MSP profile's own credential), or undefined
   * when this profile gets its tokens directly. The manager keeps that credential under its own key.
   */
  subjectProfile?(input: NamedProfile, p: ResolvedProfile): NamedProfile | undefined;
  /** Takes `tokenUrl` as an override of its documented token endpoint (oauth2 always does). */
  acceptsTokenUrl?: boolean;
  /** Tokens of these providers are interchangeable (a preset of another provider): the cache key uses this id. */
  credentialFamily?: ProviderId;
  /** Provider-specific checks and endpoint computation; pushes problems rather than throwing. */
  resolve(input: NamedProfile, base: ResolvedProfile, problems: string[]): void;
  /** A new grant. */
  login(ctx: FlowContext): Promise<TokenSet>;
  refresh?(ctx: FlowContext, refreshToken: string): Promise<TokenSet>;
  /** Advice for `status` (secret age, idle refresh tokens). */
  warnings?(p: ResolvedProfile, record: TokenRecord | undefined, nowMs: number): string[];
}
