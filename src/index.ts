// The library entry. Re-exports grow as the engine lands.
export * from "./engine/errors.js";
export * from "./engine/index.js";
export * from "./engine/runtime.js";
export * from "./engine/types.js";
export { MemoryTokenStore } from "./stores/memory.js";
export type * from "./stores/types.js";
