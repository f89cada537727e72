/** Human-readable times and durations for messages and tables. */
/** `2025-06-01 14:30:00 UTC (in 12 min)`. */
export function formatWhen(d: Date, now = Date.now()): string {
  const iso = `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
  const s = Math.round((d.getTime() - now) / 1000);
  if (s <= 0) return iso;
  return `${iso} (in ${formatDuration(s)})`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? ` ${s % 60}s` : ""}`;
  const [big, small, unit] =
    s < 86400
      ? [Math.floor(s / 3600), Math.floor((s % 3600) / 60), ["h", "m"]]
      : [Math.floor(s / 86400), Math.floor((s % 86400) / 3600), ["d", "h"]];
  return `${big}${unit[0]}${small ? ` ${small}${unit[1]}` : ""}`;
}

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
