/**
 * What `hpauth token` / `hpauth header` decide and print, without any I/O: shared by the runner (./token.ts) and
 * the cached-token probe (../probe.ts), so the two cannot print different bytes for the same token.
 */
import { rfc3339 } from "../../engine/dates.js";
import type { AccessToken } from "../../engine/types.js";
import type { TokenRecord } from "../../stores/types.js";

/** The lifetime (s) of a stored token, from when it was obtained to when the engine stops trusting it. */
export function recordLifetime(rec: TokenRecord | undefined): number | undefined {
  if (rec?.expiresAt === undefined || rec.obtainedAt === undefined) return undefined;
  const seconds = (rec.expiresAt - rec.obtainedAt) / 1000;
  return seconds > 0 ? seconds : undefined;
}

/**
 * A --min-ttl no token can satisfy (not shorter than the tokens' lifetime) is capped at half the lifetime
 * (`capped`, with a warning by the caller); anything else is used as asked.
 */
export function capMinTtl(asked: number, lifetime: number | undefined): { minTtl: number; capped: boolean } {
  if (asked === 0 || lifetime === undefined || asked < lifetime) return { minTtl: asked, capped: false };
  return { minTtl: Math.floor(lifetime / 2), capped: true };
}

/** The `--json` shape (snake_case, like an OAuth token response, plus where it came from). */
export function tokenJson(token: AccessToken, now = Date.now()): Record<string, unknown> {
  return {
    access_token: token.accessToken,
    token_type: token.tokenType,
    // The engine bounds expiries to 1970…9999; a library caller's own AccessToken might not be: null, not a throw.
    expires_at: rfc3339(token.expiresAt) ?? null,
    expires_in: Math.max(0, Math.floor((token.expiresAt.getTime() - now) / 1000)) || 0,
    ...(token.scope !== undefined ? { scope: token.scope } : {}),
    profile: token.profile,
    provider: token.provider,
    source: token.source,
  };
}

/** Everything `token` or `header` (with or without --json) writes to stdout for `token`. */
export function tokenOutput(command: "token" | "header", json: boolean, token: AccessToken): string {
  if (command === "token") return json ? `${JSON.stringify(tokenJson(token))}\n` : `${token.accessToken}\n`;
  const value = `Bearer ${token.accessToken}`;
  return json
    ? `${JSON.stringify({ header: "Authorization", value, ...tokenJson(token) })}\n`
    : `Authorization: ${value}\n`;
}
