/**
 * What the integrations need from a TokenManager: a token, the one-refresh-one-retry path, and the profile's API
 * origin. Structural, so a user may pass a TokenManager or anything shaped like one; none of the integrations caches
 * or refreshes on its own (the engine does, once per credential).
 */
import type { TokenManager } from "../engine/manager.js";

export type TokenSource = Pick<TokenManager, "getToken" | "renewRejected" | "isAuthFailure" | "apiUrl">;

/** Whether the token of `source` may go to `url`: only the profile's API origin (apiUrl throws for any other). */
export function isApiOrigin(source: TokenSource, url: string | URL): boolean {
  try {
    source.apiUrl(url);
    return true;
  } catch {
    return false;
  }
}
