/**
 * `hpauth/emulator`: a local stand-in for the five HP/HPE identity services and one protected API each, with an
 * admin API (clock, faults, revocation, counters). Imports nothing from the client side (engine, stores, CLI).
 */
export { createAdminClient } from "./admin.js";
export { DEFAULT_LIFETIMES, DEFAULT_REDIRECT_URIS, startEmulator } from "./server.js";
export type {
  AdminClient,
  ClockState,
  Counters,
  EmulatedProvider,
  Emulator,
  EmulatorOptions,
  EmulatorTlsOptions,
  FaultEndpoint,
  FaultSpec,
  FaultType,
  ProviderCounters,
  ProviderCredentials,
  ProviderInfo,
  ProviderLifetimes,
} from "./types.js";
export { EMULATED_PROVIDERS } from "./types.js";
