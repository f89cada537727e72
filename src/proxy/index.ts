/** `hpauth proxy` as a library: a local reverse proxy per profile over the engine. See docs/proxy.md. */
export { type AllowRule, parseAllowFile, parseAllowRule } from "./allow.js";
export { ProxyMetrics } from "./metrics.js";
export {
  DEFAULT_REPLAY_LIMIT,
  type ProxyEndpoint,
  type ProxyOptions,
  type ProxyTarget,
  type ProxyTokenSource,
  RESERVED_PREFIX,
  type RunningProxy,
  startProxy,
} from "./server.js";
