/** The token engine's public surface. */
export { DEFAULT_RETRY, parseRetryAfter, type RetryPolicy } from "./http.js";
export {
  type DecodedJwt,
  decodeJwtToken,
  decodeZipAuthorities,
  type FlaggedContract,
  flagGBlockedContracts,
  isGBlockedStatus,
  jwtExpiry,
} from "./inspect.js";
export {
  createTokenManager,
  type GetTokenOptions,
  type GrantRefresh,
  TokenManager,
  type TokenManagerOptions,
  type TokenStatus,
} from "./manager.js";
export { Network, type NetworkOptions, type ProxySetting, type Route } from "./network.js";
export { nextPageUrl, type PagingStyle, pageItems, pagingStyle } from "./paging.js";
export { credentialKey, loginBudgetKey, providerFields, validateProfile } from "./profile.js";
export { ARUBA_CLUSTERS } from "./providers/aruba-central.js";
export { getProvider, PROVIDERS } from "./providers/index.js";
export type { ProviderDefinition, ProviderField, ResolvedProfile, TokenSet } from "./providers/types.js";
export { bodyExcerpt, redact } from "./redact.js";
export { resolveSecret, SecretRef } from "./secrets.js";
