/** Human-readable times and durations for messages and tables. */
import { formatDuration } from "../engine/duration.js";

/** `2025-06-01 14:30:00 UTC (in 12 min)`. */
export function formatWhen(d: Date, now = Date.now()): string {
  const iso = `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
  const s = Math.round((d.getTime() - now) / 1000);
  if (s <= 0) return iso;
  return `${iso} (in ${formatDuration(s)})`;
}

// One duration format for the engine's messages and the CLI's tables: the engine owns it.
export { formatDuration };

/**
 * The one timestamp format of `--json` output: RFC 3339 UTC to the second (`2026-12-01T20:00:00Z`). Milliseconds
 * are dropped rounding down (an expiry or a past event: never later than the truth) or, with `"up"`, rounding up (a
 * time before which something is not allowed, e.g. retry_at: never earlier than the truth).
 */
export function rfc3339(when: Date | number, round: "down" | "up" = "down"): string {
  const ms = typeof when === "number" ? when : when.getTime();
  const s = round === "up" ? Math.ceil(ms / 1000) : Math.floor(ms / 1000);
  return new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}
