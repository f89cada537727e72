// The library entry: `import { createTokenManager, FileTokenStore, … } from "hpauth"`.
// The emulator has its own entry (`hpauth/emulator`) and shares nothing with this one.
export * from "./engine/errors.js";
export * from "./engine/index.js";
export {
  createLoopbackAuthorizer,
  DEFAULT_LOGIN_TIMEOUT_MS,
  type LoopbackAuthorizerOptions,
  parseImportedTokens,
} from "./engine/login/index.js";
export * from "./engine/runtime.js";
export * from "./engine/types.js";
export { DEFAULT_LOCK_STALE_MS, DEFAULT_LOCK_TIMEOUT_MS, defaultTokenDir, FileTokenStore } from "./stores/file.js";
export { MemoryTokenStore } from "./stores/memory.js";
export type * from "./stores/types.js";
