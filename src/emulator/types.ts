/**
 * The emulator's public types: options, the running Emulator and its admin client. See docs/emulator.md and the
 * "Emulator contract" in docs/ARCHITECTURE.md. Nothing here is shared with the client side on purpose.
 */

export const EMULATED_PROVIDERS = [
  "techpulse",
  "wxp",
  "greenlake",
  "aruba-central",
  "hpe-identity",
  "greenlake-platform",
] as const;
export type EmulatedProvider = (typeof EMULATED_PROVIDERS)[number];

/** What a client needs to talk to one emulated provider (printed in the ready line). */
export interface ProviderInfo {
  /** An origin of its own (own port); the provider's documented paths sit at its root. */
  baseUrl: string;
  clientId?: string;
  clientSecret?: string;
  username?: string;
  password?: string;
  customerId?: string;
  redirectUri?: string;
  /** greenlake-platform: the workspace the API client belongs to (an MSP workspace with tenants). */
  workspaceId?: string;
}

/** Credentials a provider accepts; each defaults to a fresh random value per start (pin them for CI). */
export interface ProviderCredentials {
  clientId?: string;
  clientSecret?: string;
  username?: string;
  password?: string;
  customerId?: string;
  /** techpulse: registered redirect URIs (exact match; loopback ones match any port, RFC 8252 §7.3). */
  redirectUris?: string[];
  /** greenlake-platform: the API client's (MSP) workspace id. */
  workspaceId?: string;
  /** greenlake-platform: the tenant workspaces the MSP workspace manages (token exchange targets). */
  tenantWorkspaceIds?: string[];
}

/** Lifetimes in seconds, each overridable per provider. */
export interface ProviderLifetimes {
  accessSeconds?: number;
  /** techpulse: absolute refresh-token lifetime; aruba-central: idle lifetime (a refresh token unused this long dies). */
  refreshSeconds?: number;
  /** techpulse and aruba-central authorization codes. */
  codeSeconds?: number;
}

export type FaultEndpoint = "authorize" | "login" | "code" | "token" | "api" | "*";
export type FaultType = "status" | "delay" | "malformed" | "truncated" | "html" | "drop" | "echo";

export interface FaultSpec {
  provider: EmulatedProvider | "*";
  endpoint: FaultEndpoint;
  type: FaultType;
  status?: number;
  retryAfter?: number;
  delayMs?: number;
  /** How many matching requests it applies to (default 1). */
  count?: number;
}

export interface EmulatorOptions {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** 0 (default): every origin on an ephemeral port. N: admin on N, providers on N+1…N+5 in EMULATED_PROVIDERS order. */
  port?: number;
  credentials?: Partial<Record<EmulatedProvider, ProviderCredentials>>;
  lifetimes?: Partial<Record<EmulatedProvider, ProviderLifetimes>>;
  /** Largest request body accepted, in bytes (default 64 KiB); larger ones get 413. */
  bodyLimitBytes?: number;
  /**
   * techpulse: answer `expires_in` in milliseconds minus one, like the seed's sample response (`1799999`), instead
   * of the documented seconds (`1800`). Default false.
   */
  techpulseExpiresInMillis?: boolean;
  /**
   * techpulse: the seed says both "a subsequent OAuth2 flow … the previous token will be invalidated" and "a user may
   * hold several valid tokens". true (default, the stricter reading): a new login of the same user for the same
   * client revokes that user's older grants, and a refresh invalidates the grant's previous access token.
   */
  techpulseLatestTokenOnly?: boolean;
  /**
   * RFC 9700 §4.14.2: when an already-rotated refresh token is presented again, revoke its whole family (every
   * access and refresh token of that grant). Default false: only the replayed token is refused.
   */
  revokeFamilyOnRefreshReuse?: boolean;
  /** aruba-central: at most one new access token per client id per this many seconds (default 1800). */
  arubaNewTokenIntervalSeconds?: number;
  /** aruba-central API budget per client id (defaults 5000 a day, 7 a second, as Central's defaults). */
  arubaApiPerDay?: number;
  arubaApiPerSecond?: number;
  /** The base clock (ms since the epoch); the admin API's offset is added on top. Default Date.now. */
  now?: () => number;
  /** Log one redacted line per request to this sink (the CLI passes stderr with --verbose). Default: silent. */
  log?: (line: string) => void;
  /**
   * Serve the identity services and APIs over HTTPS, with a certificate signed by a CA made for this run
   * (`Emulator.caFile`). The admin API stays plain HTTP. Default false.
   */
  tls?: boolean | EmulatorTlsOptions;
}

export interface EmulatorTlsOptions {
  /** DNS names and IP addresses the servers' certificate is issued for (default localhost, 127.0.0.1, ::1, host). */
  hosts?: string[];
  /** The servers' certificate's validity (default from an hour ago for 30 days); a past one tests clients' errors. */
  notBefore?: Date | string;
  notAfter?: Date | string;
  /** Where to write the CA certificate (PEM); default a fresh temporary directory, removed by close(). */
  caFile?: string;
}

export interface ClockState {
  now: string;
  epochMs: number;
  offsetSeconds: number;
}

export interface ProviderCounters {
  logins: number;
  codes: number;
  tokensIssued: number;
  refreshes: number;
  tokenRequests: number;
  apiCalls: number;
  refusals: Record<string, number>;
}

export type Counters = Record<EmulatedProvider, ProviderCounters>;

/** In-process helpers over the admin HTTP API (which stays the source of truth). */
export interface AdminClient {
  clock(): Promise<ClockState>;
  advanceClock(seconds: number): Promise<ClockState>;
  fault(spec: FaultSpec): Promise<void>;
  clearFaults(): Promise<void>;
  /** Revokes the grant `token` belongs to, or every grant of the provider. Resolves with how many grants died. */
  revoke(provider: EmulatedProvider, token?: string): Promise<number>;
  counters(): Promise<Counters>;
  resetCounters(): Promise<void>;
  reset(): Promise<void>;
}

export interface Emulator {
  providers: Record<EmulatedProvider, ProviderInfo>;
  adminUrl: string;
  /** JWKS URL per JWT-issuing provider (wxp, greenlake, hpe-identity, greenlake-platform). */
  jwksUrls: Partial<Record<EmulatedProvider, string>>;
  admin: AdminClient;
  /** With `tls`: the PEM file of the CA that signed the servers' certificate (for ca_file / NODE_EXTRA_CA_CERTS). */
  caFile?: string;
  /** With `tls`: that CA certificate itself (PEM). */
  caPem?: string;
  close(): Promise<void>;
}
