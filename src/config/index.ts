export * from "./fields.js";
export * from "./load.js";
export * from "./parse.js";
export * from "./paths.js";
export * from "./resolve.js";
export * from "./write.js";
