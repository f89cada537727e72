/**
 * Instants that can be shown. A server, a token or a hand-edited store record can claim any number (`exp: 1e20`,
 * `expiresAt: -1`), and `new Date(1e23).toISOString()` throws `RangeError: Invalid time value`, while years past
 * 9999 print as `+275760-…`, which is no RFC 3339. Everything that turns an epoch into text goes through here.
 */

/** The last instant RFC 3339 can write (four-digit years): 9999-12-31T23:59:59.999Z. */
export const MAX_TIME_MS = 253_402_300_799_999;

/** True for an epoch-ms value that is a real, printable instant (1970 … 9999). */
export function isTimeMs(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= MAX_TIME_MS;
}

/** Bounds an epoch-ms value into the printable range: far past → 1970, far future → 9999, NaN → 0 (long expired). */
export function clampTimeMs(ms: number): number {
  if (Number.isNaN(ms)) return 0;
  return Math.min(Math.max(ms, 0), MAX_TIME_MS);
}

/**
 * `2025-06-01T14:30:00Z` (RFC 3339, UTC, whole seconds: the one timestamp format of `--json` output), or undefined
 * when `t` is no printable instant. Milliseconds are dropped rounding down (an expiry or a past event: never later
 * than the truth) or, with `"up"`, rounding up (a time before which something is not allowed, e.g. retry_at: never
 * earlier than the truth).
 */
export function rfc3339(t: Date | number, round: "down" | "up" = "down"): string | undefined {
  const raw = t instanceof Date ? t.getTime() : t;
  if (!isTimeMs(raw)) return undefined;
  const ms = Math.min((round === "up" ? Math.ceil(raw / 1000) : Math.floor(raw / 1000)) * 1000, MAX_TIME_MS - 999);
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}
