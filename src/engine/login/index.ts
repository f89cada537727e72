/** Interactive authorization: loopback listener, system browser, paste-back; token import parsing. */
export {
  createLoopbackAuthorizer,
  DEFAULT_LOGIN_TIMEOUT_MS,
  type LoopbackAuthorizerOptions,
  planRedirect,
  type RedirectPlan,
} from "./authorizer.js";
export { browserCommands, headlessReason, openSystemBrowser } from "./browser.js";
export { authorizationError, judgeCallback } from "./callback.js";
export { type ImportedTokens, parseImportedTokens } from "./import.js";
export { type CallbackListener, startCallbackListener } from "./listener.js";
export { CALLBACK_CSP, CALLBACK_HEADERS } from "./page.js";
export { parsePasted } from "./paste.js";
export { newPkcePair, newState, SingleUseState, stateMatches } from "./state.js";
