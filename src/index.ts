// The library entry. Re-exports grow as the engine lands.
export * from "./engine/errors.js";
export * from "./engine/runtime.js";
export * from "./engine/types.js";
export type * from "./stores/types.js";
