/**
 * When a stored access token may be served without asking the identity service: the one freshness rule, shared by
 * TokenManager and the CLI's cached-token probe (src/cli/probe.ts). Pure (no I/O, no clock of its own, no
 * randomness), so the probe's bundle can include it instead of a copy of it.
 */
import type { TokenRecord } from "../stores/types.js";
import type { AccessToken } from "./types.js";

/** Refresh this long before expiry by default. */
export const DEFAULT_MARGIN_SECONDS = 60;
/** The jitter added to the margin is at most 10% of the lifetime and at most this. */
export const MAX_JITTER_MS = 60_000;
/**
 * The largest jitter draw (TokenManager draws in [0, 1)). The margin grows with the draw, so a token fresh with
 * this one is fresh whatever a TokenManager drew: what the probe uses, so it never serves a token the full path
 * might have refreshed.
 */
export const MAX_JITTER = 1;

/** The refresh margin for a token of this lifetime: `marginMs` plus the jitter, never more than half the lifetime. */
export function refreshMargin(lifetimeMs: number, marginMs: number, jitter: number): number {
  const j = jitter * Math.min(lifetimeMs * 0.1, MAX_JITTER_MS);
  // A margin larger than half the lifetime would make short-lived tokens permanently "expiring".
  return Math.min(marginMs + j, lifetimeMs / 2);
}

/** Whether `rec` holds an access token with more than the margin (and more than `minTtlMs`) left at `now`. */
export function isFresh(
  rec: Pick<TokenRecord, "accessToken" | "expiresAt" | "obtainedAt"> | undefined,
  now: number,
  minTtlMs: number,
  marginMs: number,
  jitter: number,
): boolean {
  if (!rec?.accessToken || rec.expiresAt === undefined) return false;
  const lifetime = rec.expiresAt - (rec.obtainedAt ?? rec.expiresAt);
  const left = rec.expiresAt - now;
  return left > Math.max(refreshMargin(lifetime, marginMs, jitter), minTtlMs);
}

/** The AccessToken a stored record stands for. */
export function recordToken(
  rec: TokenRecord,
  source: AccessToken["source"],
  profile: { name: string; provider: AccessToken["provider"] },
): AccessToken {
  const t: AccessToken = {
    accessToken: rec.accessToken ?? "",
    tokenType: "Bearer",
    expiresAt: new Date(rec.expiresAt ?? 0),
    source,
    profile: profile.name,
    provider: profile.provider,
  };
  if (rec.scope) t.scope = rec.scope;
  return t;
}
