/** Human-readable times and durations for messages and tables. */
import { rfc3339 } from "../engine/dates.js";

/** `2025-06-01 14:30:00 UTC (in 12 min)`. */
export function formatWhen(d: Date, now = Date.now()): string {
  const text = rfc3339(d);
  if (!text) return "an unknown time";
  const iso = `${text.slice(0, 19).replace("T", " ")} UTC`;
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
