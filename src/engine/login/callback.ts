/**
 * Judging an authorization response (the query of the redirect), shared by the loopback listener and paste-back:
 * state first (a response whose state is wrong or missing is not ours and changes nothing), then error or code.
 */
import { HpauthError } from "../errors.js";
import { safeOAuthText } from "./page.js";
import type { SingleUseState } from "./state.js";

export type CallbackVerdict =
  | { kind: "bad-state"; reason: "missing" | "mismatch" | "used" }
  | { kind: "code"; code: string }
  | { kind: "error"; error: HpauthError };

export interface CallbackContext {
  provider?: string;
  profile?: string;
}

export function judgeCallback(
  params: URLSearchParams,
  state: SingleUseState,
  context: CallbackContext = {},
): CallbackVerdict {
  const received = params.get("state");
  if (!received) return { kind: "bad-state", reason: "missing" };
  if (!state.matches(received)) return { kind: "bad-state", reason: "mismatch" };
  if (!state.consume(received)) return { kind: "bad-state", reason: "used" };
  const error = params.get("error");
  if (error) return { kind: "error", error: authorizationError(error, params.get("error_description"), context) };
  const code = params.get("code");
  if (!code) {
    return {
      kind: "error",
      error: new HpauthError("INVALID_RESPONSE", "The authorization response carried neither a code nor an error", {
        ...ctx(context),
      }),
    };
  }
  return { kind: "code", code };
}

function ctx(c: CallbackContext): { provider?: string; profile?: string } {
  return { ...(c.provider ? { provider: c.provider } : {}), ...(c.profile ? { profile: c.profile } : {}) };
}

/** RFC 6749 §4.1.2.1 error codes (plus OIDC's) onto our codes; the description is echoed only cleaned and short. */
export function authorizationError(
  rawError: string,
  rawDescription: string | null | undefined,
  context: CallbackContext = {},
): HpauthError {
  const oauthError = safeOAuthText(rawError, 64) ?? "unknown_error";
  const description = safeOAuthText(rawDescription);
  const detail = description ? `: ${description}` : "";
  const base = { oauthError, ...ctx(context) };
  switch (oauthError) {
    case "access_denied":
      return new HpauthError("ACCESS_DENIED", `Access was denied in the browser (access_denied)${detail}`, {
        ...base,
        hint: "Run `hpauth login` again and allow access on the consent page.",
      });
    case "login_required":
    case "interaction_required":
    case "consent_required":
    case "account_selection_required":
      return new HpauthError("LOGIN_REQUIRED", `The identity provider needs you to sign in (${oauthError})${detail}`, {
        ...base,
      });
    case "unauthorized_client":
    case "invalid_client":
      return new HpauthError("INVALID_CLIENT", `The identity provider refused the client (${oauthError})${detail}`, {
        ...base,
        hint: "Check the profile's client id and its registered redirect URIs.",
      });
    case "server_error":
    case "temporarily_unavailable":
      return new HpauthError("SERVER_ERROR", `The identity provider failed (${oauthError})${detail}`, base);
    default:
      return new HpauthError("CONFIG_INVALID", `The identity provider refused the request (${oauthError})${detail}`, {
        ...base,
        hint: "Check the profile's client id, scope and redirect URI.",
      });
  }
}
